// The frame of every signed-in page: navigation, live-connection state, sign-out; collapses on a phone.
import { useState } from 'react';
import { NavLink, Outlet, useNavigate } from 'react-router';

import type { LiveState } from '../api/live-events';
import { useSignOut } from '../api/session';
import { Button } from './ui';

const LINKS = [
  { to: '/', label: 'Dashboard', end: true },
  { to: '/migrations/new', label: 'Migrate', end: true },
  { to: '/migrations', label: 'History', end: true },
  { to: '/enroll', label: 'Enroll a worker', end: true },
  { to: '/audit', label: 'Audit', end: true },
];

const LIVE_TEXT: Record<LiveState, string> = {
  connecting: 'connecting…',
  live: 'live',
  reconnecting: 'reconnecting…',
};

export function Layout({ live }: { live: LiveState }) {
  const signOut = useSignOut();
  const navigate = useNavigate();
  const [menuOpen, setMenuOpen] = useState(false);
  return (
    <div className="min-h-screen">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:rounded focus:bg-white focus:p-2"
      >
        Skip to content
      </a>
      <header className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
          <NavLink to="/" className="text-lg font-bold tracking-tight text-sky-700 dark:text-sky-400">
            Dockation
          </NavLink>
          <button
            type="button"
            className="ml-auto rounded border border-slate-300 px-2 py-1 text-sm md:hidden dark:border-slate-700"
            aria-expanded={menuOpen}
            aria-controls="main-nav"
            onClick={() => {
              setMenuOpen((open) => !open);
            }}
          >
            Menu
          </button>
          <nav
            id="main-nav"
            aria-label="Main"
            className={`${menuOpen ? 'flex' : 'hidden'} w-full flex-col gap-1 md:flex md:w-auto md:flex-row md:gap-4`}
          >
            {LINKS.map((link) => (
              <NavLink
                key={link.to}
                to={link.to}
                end={link.end}
                onClick={() => {
                  setMenuOpen(false);
                }}
                className={({ isActive }) =>
                  `rounded px-2 py-1 text-sm ${isActive ? 'bg-sky-100 font-medium text-sky-900 dark:bg-sky-900 dark:text-sky-100' : 'text-slate-700 hover:bg-slate-100 dark:text-slate-300 dark:hover:bg-slate-800'}`
                }
              >
                {link.label}
              </NavLink>
            ))}
          </nav>
          <div
            className={`${menuOpen ? 'flex' : 'hidden'} w-full items-center gap-3 md:ml-auto md:flex md:w-auto`}
          >
            <span className="text-xs text-slate-500" role="status" aria-live="polite" title="live updates">
              <span
                aria-hidden="true"
                className={`mr-1 inline-block h-2 w-2 rounded-full ${live === 'live' ? 'bg-emerald-500' : 'bg-amber-500'}`}
              />
              {LIVE_TEXT[live]}
            </span>
            <Button
              onClick={() => {
                signOut.mutate(undefined, {
                  onSettled: () => {
                    void navigate('/sign-in', { replace: true });
                  },
                });
              }}
              disabled={signOut.isPending}
            >
              Sign out
            </Button>
          </div>
        </div>
      </header>
      <main id="main" className="mx-auto max-w-7xl px-4 py-6">
        <Outlet />
      </main>
    </div>
  );
}
