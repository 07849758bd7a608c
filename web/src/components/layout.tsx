// The frame of every signed-in page: navigation, live-connection state, sign-out; collapses on a phone. After each
// navigation, keyboard and screen reader focus moves to the new page's main content, as a page load would put it.
import { useEffect, useRef, useState } from 'react';
import { NavLink, Outlet, useLocation, useNavigate } from 'react-router';

import type { LiveState } from '../api/live-events';
import { useSignOut } from '../api/session';
import { Button, ErrorNotice } from './ui';

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
  const menuButton = useRef<HTMLButtonElement>(null);
  const main = useRef<HTMLElement>(null);
  const { pathname } = useLocation();
  const shownPath = useRef(pathname);

  // Without this, focus stays on the link that was followed (or falls to <body> when it goes away), and a screen
  // reader says nothing of the new page. The first page is left alone: the browser placed focus already.
  useEffect(() => {
    if (shownPath.current === pathname) return;
    shownPath.current = pathname;
    main.current?.focus();
  }, [pathname]);

  return (
    <div className="min-h-screen">
      <a
        href="#main"
        className="sr-only focus:not-sr-only focus:absolute focus:top-2 focus:left-2 focus:z-10 focus:rounded focus:bg-white focus:p-2 focus:text-slate-900 dark:focus:bg-slate-900 dark:focus:text-slate-100"
      >
        Skip to content
      </a>
      <header
        className="border-b border-slate-200 bg-white dark:border-slate-800 dark:bg-slate-900"
        onKeyDown={(event) => {
          if (event.key !== 'Escape' || !menuOpen) return;
          setMenuOpen(false);
          menuButton.current?.focus();
        }}
      >
        <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
          <NavLink to="/" className="text-lg font-bold tracking-tight text-sky-700 dark:text-sky-400">
            Dockation
          </NavLink>
          <button
            ref={menuButton}
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
            <span className="text-xs text-slate-600 dark:text-slate-400" title="live updates">
              <span
                aria-hidden="true"
                className={`mr-1 inline-block h-2 w-2 rounded-full ${live === 'live' ? 'bg-emerald-500' : 'bg-amber-500'}`}
              />
              {LIVE_TEXT[live]}
            </span>
            <Button
              onClick={() => {
                signOut.mutate(undefined, {
                  onSuccess: () => {
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
      {/* Outside the collapsible part, which is not rendered on a phone until the menu opens; silent while all is
          well, so that it does not speak on every page load. */}
      <p role="status" className="sr-only">
        {live === 'reconnecting' ? 'Live updates interrupted: reconnecting…' : ''}
      </p>
      <main ref={main} id="main" tabIndex={-1} className="mx-auto max-w-7xl px-4 py-6 focus:outline-none">
        {signOut.isError && (
          <div className="mb-4">
            <ErrorNotice
              error={signOut.error}
              title="You are still signed in: the master could not end the session"
            />
          </div>
        )}
        <Outlet />
      </main>
    </div>
  );
}
