// Sign-in: the token traded for a session, the master's refusal in words, and a return only to this app's pages.
import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { apiError, fakeApi } from '../testing/fake-api';
import { renderAt } from '../testing/render';
import { safeNext, SignInPage } from './sign-in';

function renderSignIn(path: string) {
  return renderAt(path, [{ path: '/sign-in', element: <SignInPage /> }]);
}

describe('safeNext', () => {
  it('keeps a path of this app, with its query', () => {
    expect(safeNext('/audit')).toBe('/audit');
    expect(safeNext('/migrations/new?from=w-1')).toBe('/migrations/new?from=w-1');
  });

  it('never leads to another site, however the address is spelled', () => {
    for (const next of [
      null,
      '',
      'https://evil.example/',
      '//evil.example/x',
      '/\\evil.example/x',
      '/\t/evil.example',
      '\\\\evil.example',
      '/sign-in?next=/audit',
    ]) {
      expect(safeNext(next)).toBe('/');
    }
  });
});

describe('SignInPage', () => {
  it('says in words why a token was refused', async () => {
    fakeApi({
      'GET /api/session': { body: { authenticated: false, via: null, expires_at: null } },
      'POST /api/session': apiError(401, 'unauthenticated', 'the admin token is not valid'),
    });
    const user = userEvent.setup();
    renderSignIn('/sign-in');

    await user.type(await screen.findByLabelText('Admin token'), 'wrong{Enter}');

    expect(await screen.findByRole('alert')).toHaveTextContent('the admin token is not valid');
  });

  it('returns to the page asked for once signed in', async () => {
    const { calls } = fakeApi({
      'GET /api/session': { body: { authenticated: false, via: null, expires_at: null } },
      'POST /api/session': { body: { authenticated: true, via: 'session', expires_at: null } },
    });
    const user = userEvent.setup();
    renderSignIn('/sign-in?next=%2Faudit');

    await user.type(await screen.findByLabelText('Admin token'), ' dm-admin-1 ');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByTestId('location')).toHaveTextContent(/^\/audit$/);
    expect(calls.find((call) => call.method === 'POST')?.body).toEqual({ token: 'dm-admin-1' });
  });
});
