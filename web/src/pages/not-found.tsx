// A path the app does not know.
import { Link } from 'react-router';

import { EmptyState, LINK_CLASS, PageTitle } from '../components/ui';

export function NotFoundPage() {
  return (
    <>
      <PageTitle>Page not found</PageTitle>
      <EmptyState title="There is nothing at this address.">
        <Link className={LINK_CLASS} to="/">
          Go to the dashboard
        </Link>
      </EmptyState>
    </>
  );
}
