// Routes of the web UI. Every page but sign-in needs a session; signed out, the app shows sign-in and comes back.
import { useQueryClient } from '@tanstack/react-query';
import { useEffect } from 'react';
import { createBrowserRouter, Navigate, RouterProvider, useLocation } from 'react-router';

import { onSignedOut } from './api/client';
import { useLiveEvents } from './api/live-events';
import { forgetSession, useSession } from './api/session';
import { Layout } from './components/layout';
import { Button, ErrorNotice, Loading } from './components/ui';
import { AuditPage } from './pages/audit';
import { DashboardPage } from './pages/dashboard';
import { EnrollPage } from './pages/enroll';
import { HistoryPage } from './pages/migrations/history';
import { MigrationPage } from './pages/migrations/migration';
import { WizardPage } from './pages/migrations/wizard';
import { NotFoundPage } from './pages/not-found';
import { SignInPage } from './pages/sign-in';
import { WorkerPage } from './pages/worker';

/** Shows its pages only with a session; otherwise sends the browser to sign-in, remembering where it was. */
function RequireSession() {
  const session = useSession();
  const location = useLocation();
  const client = useQueryClient();
  const signedIn = session.data !== null && session.data !== undefined;
  const live = useLiveEvents(signedIn);

  // Any API call answered 401 (expired session, token rotated) means signed out now.
  useEffect(
    () =>
      onSignedOut(() => {
        forgetSession(client);
      }),
    [client],
  );

  if (session.isPending) {
    return (
      <div className="p-6">
        <Loading what="your session" />
      </div>
    );
  }
  if (session.isError) {
    return (
      <div className="space-y-3 p-6">
        <ErrorNotice error={session.error} title="The master cannot be reached" />
        <Button
          onClick={() => {
            void session.refetch();
          }}
          disabled={session.isFetching}
        >
          {session.isFetching ? 'Trying again…' : 'Try again'}
        </Button>
      </div>
    );
  }
  if (!signedIn) {
    const next = `${location.pathname}${location.search}`;
    return <Navigate to={next === '/' ? '/sign-in' : `/sign-in?next=${encodeURIComponent(next)}`} replace />;
  }
  return <Layout live={live} />;
}

const router = createBrowserRouter([
  { path: '/sign-in', element: <SignInPage /> },
  {
    element: <RequireSession />,
    children: [
      { index: true, element: <DashboardPage /> },
      { path: 'workers/:id', element: <WorkerPage /> },
      { path: 'enroll', element: <EnrollPage /> },
      { path: 'audit', element: <AuditPage /> },
      { path: 'migrations', element: <HistoryPage /> },
      { path: 'migrations/new', element: <WizardPage /> },
      { path: 'migrations/:id', element: <MigrationPage /> },
      { path: '*', element: <NotFoundPage /> },
    ],
  },
]);

export function App() {
  return <RouterProvider router={router} />;
}
