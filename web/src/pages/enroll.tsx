// Placeholder until this page is written.
import { PageTitle } from '../components/ui';

export function EnrollPage() {
  return <PageTitle>EnrollPage</PageTitle>;
}
