// Placeholder until this page is written.
import { PageTitle } from '../components/ui';

export function WorkerPage() {
  return <PageTitle>WorkerPage</PageTitle>;
}
