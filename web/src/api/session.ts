// Signing in and out: the admin token is exchanged once for an HttpOnly session cookie the browser keeps.
import { useMutation, useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';

import type { SessionJson } from '../../../src/contract/index.js';
import { api, ApiError } from './client';
import { keys } from './keys';

export type { SessionJson };

/** The current session, or null when signed out (GET /api/session answers `authenticated: false`). */
export function useSession() {
  return useQuery({
    queryKey: keys.session,
    queryFn: async (): Promise<SessionJson | null> => {
      try {
        const session = await api<SessionJson>('/api/session', { quietUnauthenticated: true });
        return session.authenticated ? session : null;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return null;
        throw error;
      }
    },
    staleTime: 60_000,
    retry: 1,
  });
}

/**
 * Marks the browser signed out after the master refused a call (session expired, admin token changed), and
 * drops everything fetched under that session, so none of it stays in memory for whoever signs in next.
 */
export function forgetSession(client: QueryClient): void {
  client.removeQueries({ predicate: (query) => query.queryKey[0] !== keys.session[0] });
  client.setQueryData(keys.session, null);
}

export function useSignIn() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (token: string) =>
      api<SessionJson>('/api/session', { method: 'POST', body: { token }, quietUnauthenticated: true }),
    onSuccess: (session) => {
      client.setQueryData(keys.session, session);
    },
  });
}

/**
 * Ends the session. Only once the master has ended it (or says there was none: 401) is the cache cleared, which
 * shows sign-in; when it could not be asked, the cookie still works and the page says so rather than pretending.
 */
export function useSignOut() {
  const client = useQueryClient();
  const signedOut = (): void => {
    client.clear();
    client.setQueryData(keys.session, null);
  };
  return useMutation({
    mutationFn: async () => {
      try {
        await api<unknown>('/api/session', { method: 'DELETE', quietUnauthenticated: true });
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 401)) throw error;
      }
    },
    onSuccess: signedOut,
  });
}
