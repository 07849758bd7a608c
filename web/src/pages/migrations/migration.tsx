// Placeholder until this page is written.
import { PageTitle } from '../../components/ui';

export function MigrationPage() {
  return <PageTitle>MigrationPage</PageTitle>;
}
