// Placeholder until this page is written.
import { PageTitle } from '../components/ui';

export function DashboardPage() {
  return <PageTitle>DashboardPage</PageTitle>;
}
