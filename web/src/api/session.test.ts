// Forgetting a session the master ended: signed out, and nothing fetched under it kept.
import { QueryClient } from '@tanstack/react-query';
import { describe, expect, it } from 'vitest';

import { keys } from './keys';
import { forgetSession } from './session';

describe('forgetSession', () => {
  it('signs out and drops every cached answer of the ended session', () => {
    const client = new QueryClient();
    client.setQueryData(keys.session, { authenticated: true, via: 'session', expires_at: null });
    client.setQueryData(keys.workers, { workers: [{ id: 'w-1' }] });
    client.setQueryData(keys.enrollment, { token: 'dm-enroll-secret' });
    forgetSession(client);
    expect(client.getQueryData(keys.session)).toBeNull();
    expect(client.getQueryData(keys.workers)).toBeUndefined();
    expect(client.getQueryData(keys.enrollment)).toBeUndefined();
  });
});
