// Placeholder until this page is written.
import { PageTitle } from '../../components/ui';

export function HistoryPage() {
  return <PageTitle>HistoryPage</PageTitle>;
}
