// Placeholder until this page is written.
import { PageTitle } from '../../components/ui';

export function WizardPage() {
  return <PageTitle>WizardPage</PageTitle>;
}
