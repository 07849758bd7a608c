// Placeholder until this page is written.
import { PageTitle } from '../components/ui';

export function AuditPage() {
  return <PageTitle>AuditPage</PageTitle>;
}
