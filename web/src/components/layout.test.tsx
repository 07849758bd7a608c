// The frame of the signed-in pages: named navigation, focus and title after a navigation, the phone menu, and a
// lost live connection said to screen readers.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { describe, expect, it } from 'vitest';

import type { LiveState } from '../api/live-events';
import { apiError, fakeApi } from '../testing/fake-api';
import { Layout } from './layout';
import { PageTitle } from './ui';

function renderLayout(live: LiveState = 'live') {
  const router = createMemoryRouter(
    [
      {
        element: <Layout live={live} />,
        children: [
          { index: true, element: <PageTitle>Dashboard</PageTitle> },
          { path: 'audit', element: <PageTitle>Audit log</PageTitle> },
        ],
      },
      { path: '/sign-in', element: <p>sign-in page</p> },
    ],
    { initialEntries: ['/'] },
  );
  render(
    <QueryClientProvider client={new QueryClient()}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
}

describe('Layout', () => {
  it('names its links and button as the browser test and people know them', () => {
    renderLayout();
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(
      within(nav)
        .getAllByRole('link')
        .map((link) => link.textContent),
    ).toEqual(['Dashboard', 'Migrate', 'History', 'Enroll a worker', 'Audit']);
    expect(screen.getByRole('button', { name: 'Sign out' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Skip to content' })).toHaveAttribute('href', '#main');
  });

  it('moves focus to the new page and names the tab after it, but leaves the first page alone', async () => {
    const user = userEvent.setup();
    renderLayout();
    expect(document.title).toBe('Dashboard · Dockation');
    expect(screen.getByRole('main')).not.toHaveFocus();

    await user.click(screen.getByRole('link', { name: 'Audit' }));

    expect(await screen.findByRole('heading', { name: 'Audit log' })).toBeInTheDocument();
    expect(screen.getByRole('main')).toHaveFocus();
    expect(document.title).toBe('Audit log · Dockation');
  });

  it('opens and closes the phone menu, Escape returning to its button', async () => {
    const user = userEvent.setup();
    renderLayout();
    const menu = screen.getByRole('button', { name: 'Menu' });
    expect(menu).toHaveAttribute('aria-expanded', 'false');

    await user.click(menu);
    expect(menu).toHaveAttribute('aria-expanded', 'true');
    await user.tab();
    await user.keyboard('{Escape}');

    expect(menu).toHaveAttribute('aria-expanded', 'false');
    expect(menu).toHaveFocus();
  });

  it('says so to screen readers only when the live connection is lost', () => {
    renderLayout('live');
    expect(screen.getByRole('status')).toBeEmptyDOMElement();
  });

  it('says that live updates are interrupted while reconnecting', () => {
    renderLayout('reconnecting');
    expect(screen.getByRole('status')).toHaveTextContent('Live updates interrupted: reconnecting…');
  });

  it('signs out and shows sign-in', async () => {
    const { calls } = fakeApi({ 'DELETE /api/session': { body: { authenticated: false } } });
    const user = userEvent.setup();
    renderLayout();
    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByText('sign-in page')).toBeInTheDocument();
    expect(calls.map((call) => `${call.method} ${call.path}`)).toEqual(['DELETE /api/session']);
  });

  it('says so when the session could not be ended, instead of showing sign-in with the cookie still valid', async () => {
    fakeApi({ 'DELETE /api/session': apiError(503, 'unavailable', 'the master is shutting down') });
    const user = userEvent.setup();
    renderLayout();
    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      /You are still signed in.*the master is shutting down/,
    );
    expect(screen.queryByText('sign-in page')).not.toBeInTheDocument();
  });
});
