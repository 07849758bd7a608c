// The sign-in page: the admin token, once, exchanged for a session cookie.
import { useState, type SubmitEvent } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router';

import { useSession, useSignIn } from '../api/session';
import { Button, ErrorNotice, useDocumentTitle } from '../components/ui';

/**
 * Where to go after signing in: only a path of this app, never another site. Browsers read "\" as "/" and drop
 * tabs and newlines in a URL, so "/\evil.example" leaves the site although it starts with one slash: the path is
 * resolved the way the browser will resolve it, and kept only when it stays on this origin.
 */
export function safeNext(next: string | null): string {
  if (next?.startsWith('/') !== true) return '/';
  let url: URL;
  try {
    url = new URL(next, window.location.origin);
  } catch {
    return '/';
  }
  if (url.origin !== window.location.origin || url.pathname.startsWith('/sign-in')) return '/';
  return `${url.pathname}${url.search}${url.hash}`;
}

export function SignInPage() {
  const [token, setToken] = useState('');
  const session = useSession();
  const signIn = useSignIn();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get('next'));
  useDocumentTitle('Sign in');

  if (session.data) return <Navigate to={next} replace />;

  function submit(event: SubmitEvent<HTMLFormElement>) {
    event.preventDefault();
    if (token.trim() === '') return;
    signIn.mutate(token.trim(), {
      onSuccess: () => {
        setToken('');
        void navigate(next, { replace: true });
      },
    });
  }

  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <form
        onSubmit={submit}
        className="w-full max-w-sm space-y-4 rounded-lg border border-slate-200 bg-white p-6 shadow-sm dark:border-slate-800 dark:bg-slate-900"
      >
        <div>
          <h1 className="text-xl font-semibold">Sign in to Dockation</h1>
          <p className="mt-1 text-sm text-slate-600 dark:text-slate-400">
            Use the admin token the master printed when it first started (or the one in its configuration).
          </p>
        </div>
        <div className="space-y-1">
          <label htmlFor="admin-token" className="block text-sm font-medium">
            Admin token
          </label>
          <input
            id="admin-token"
            name="token"
            type="password"
            autoComplete="current-password"
            required
            autoFocus
            value={token}
            onChange={(event) => {
              setToken(event.target.value);
            }}
            className="w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm dark:border-slate-700 dark:bg-slate-950"
          />
        </div>
        {signIn.isError && <ErrorNotice error={signIn.error} title="Could not sign in" />}
        <Button
          type="submit"
          variant="primary"
          className="w-full"
          disabled={signIn.isPending || token.trim() === ''}
        >
          {signIn.isPending ? 'Signing in…' : 'Sign in'}
        </Button>
      </form>
    </main>
  );
}
