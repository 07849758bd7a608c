// The REST API's error bodies: a code, a readable message, and the details a client branches on.
import { describe, expect, it } from 'vitest';

import { AppError } from '../../core/errors.js';
import { toErrorResponse } from './http-errors.js';

describe('toErrorResponse', () => {
  it('keeps an error’s details and adds its reason to them', () => {
    const error = new AppError('unavailable', 'cannot reach the receiving worker at beta:7443', {
      reason: 'peer_unreachable',
      details: { worker: 'beta' },
    });
    expect(toErrorResponse(error, 1024)).toEqual({
      status: 503,
      body: {
        error: {
          code: 'unavailable',
          message: 'cannot reach the receiving worker at beta:7443',
          details: { worker: 'beta', reason: 'peer_unreachable' },
        },
      },
      unexpected: false,
    });
  });

  it('sends no details when an error has neither details nor a reason', () => {
    const { body } = toErrorResponse(new AppError('not_found', 'migration m-1 not found'), 1024);
    expect(body).toEqual({ error: { code: 'not_found', message: 'migration m-1 not found' } });
  });
});
