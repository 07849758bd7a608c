// The bytes of one resource of a migration, in words and as a bar: configuration only, bytes of a total never
// below them, or nothing for a skipped one.
import { describe, expect, it } from 'vitest';

import type { ResourceJson } from '../../api/migration-types';
import { resourceBytesText, resourceProgress } from './migration-resources';

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
  it('shows progress against the total while it holds', () => {
    expect(resourceBytesText(resource({ bytes: 1024, estimated_bytes: 4096 }))).toBe('1.0 KiB / 4.0 KiB');
    expect(resourceBytesText(resource({ bytes: 1024, estimated_bytes: 4096, total_bytes: 4096 }))).toBe(
      '1.0 KiB / 4.0 KiB',
    );
  });
  it('raises the total to the bytes moved when the volume grew past its estimate', () => {
    expect(resourceBytesText(resource({ bytes: 8192, estimated_bytes: 4096 }))).toBe('8.0 KiB / 8.0 KiB');
    expect(resourceBytesText(resource({ bytes: 8192, estimated_bytes: 4096, total_bytes: 8192 }))).toBe(
      '8.0 KiB / 8.0 KiB',
    );
  });
  it('shows what a finished resource moved, and says when a size is not known', () => {
    expect(resourceBytesText(resource({ bytes: 4 * 1024 * 1024, status: 'done' }))).toBe('4.0 MiB');
    expect(resourceBytesText(resource({ status: 'pending' }))).toBe('size not known yet');
    expect(resourceBytesText(resource({ status: 'pending', estimated_bytes: null }))).toBe('size unknown');
  });
  it('says a skipped resource moved nothing', () => {
    expect(resourceBytesText(resource({ type: 'image', status: 'skipped', estimated_bytes: 4096 }))).toBe(
      'not moved: skipped',
    );
  });
  it('says containers and networks move as settings', () => {
    expect(resourceBytesText(resource({ type: 'container' }))).toBe('configuration only');
    expect(resourceBytesText(resource({ type: 'network' }))).toBe('configuration only');
  });
});

describe('resourceProgress', () => {
  it('gives a skipped resource no bar rather than a full one', () => {
    expect(
      resourceProgress(resource({ type: 'image', status: 'skipped', estimated_bytes: 4096 })),
    ).toBeNull();
  });
  it('never goes past a whole bar, even when the volume grew', () => {
    expect(resourceProgress(resource({ bytes: 8192, estimated_bytes: 4096 }))).toBe(1);
    expect(resourceProgress(resource({ bytes: 1024, estimated_bytes: 4096 }))).toBe(0.25);
    expect(resourceProgress(resource({ type: 'container', status: 'done' }))).toBe(1);
  });
});
