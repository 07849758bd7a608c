// A path the app does not know.
import { Link } from 'react-router';

import { EmptyState, PageTitle } from '../components/ui';

export function NotFoundPage() {
  return (
    <>
      <PageTitle>Page not found</PageTitle>
      <EmptyState title="There is nothing at this address.">
        <Link className="text-sky-700 underline dark:text-sky-400" to="/">
          Go to the dashboard
        </Link>
      </EmptyState>
    </>
  );
}
