// The bytes of one resource of a migration, in words: configuration only, a share of an estimate, or bytes alone.
import { describe, expect, it } from 'vitest';

import type { ResourceJson } from '../../api/migration-types';
import { resourceBytesText } from './migration-resources';

function resource(patch: Partial<ResourceJson>): ResourceJson {
  return {
    type: 'volume',
    name: 'data',
    source_id: 'data',
    target_name: 'data',
    reason: 'dependency',
    action: 'create',
    status: 'running',
    bytes: 0,
    estimated_bytes: 0,
    ...patch,
  };
}

describe('resourceBytesText', () => {
  it('shows progress against the estimate while it holds', () => {
    expect(resourceBytesText(resource({ bytes: 1024, estimated_bytes: 4096 }))).toBe('1.0 KiB / 4.0 KiB');
  });
  it('shows the bytes alone when the size was not known or was exceeded', () => {
    expect(resourceBytesText(resource({ bytes: 4 * 1024 * 1024, status: 'done' }))).toBe('4.0 MiB');
    expect(resourceBytesText(resource({ bytes: 8192, estimated_bytes: 4096 }))).toBe('8.0 KiB');
    expect(resourceBytesText(resource({ status: 'pending' }))).toBe('size not known yet');
  });
  it('says containers and networks move as settings', () => {
    expect(resourceBytesText(resource({ type: 'container' }))).toBe('configuration only');
    expect(resourceBytesText(resource({ type: 'network' }))).toBe('configuration only');
  });
});
