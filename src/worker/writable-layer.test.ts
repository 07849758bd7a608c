import { describe, expect, it } from 'vitest';
import type { ContainerChange } from '../core/ports.js';
import { mountDestinations, ownChanges } from './writable-layer.js';

describe('ownChanges', () => {
  it('keeps the files a container wrote outside its mounts and drops parents and mount folders', () => {
    // What `docker diff` listed for a container with a volume at /srv/data and a bind mount at /mnt/bindm.
    const listed: ContainerChange[] = [
      { path: '/etc', kind: 'modified' },
      { path: '/etc/newfile', kind: 'added' },
      { path: '/etc/group', kind: 'deleted' },
      { path: '/srv', kind: 'added' },
      { path: '/srv/data', kind: 'added' },
      { path: '/var', kind: 'modified' },
      { path: '/var/cache', kind: 'added' },
      { path: '/var/cache/x', kind: 'added' },
      { path: '/var/cache/x/y', kind: 'added' },
      { path: '/var/empty-dir', kind: 'added' },
      { path: '/mnt', kind: 'added' },
      { path: '/mnt/bindm', kind: 'added' },
      { path: '/mnt/bindm/inside', kind: 'added' },
    ];
    expect(ownChanges(listed, ['/srv/data', '/mnt/bindm']).map((c) => `${c.kind} ${c.path}`)).toEqual([
      'deleted /etc/group',
      'added /etc/newfile',
      'added /var/cache/x/y',
      'added /var/empty-dir',
    ]);
  });

  it('reads mount points from the mounts and from HostConfig.Tmpfs', () => {
    expect(
      mountDestinations({
        mounts: [{ type: 'volume', name: 'v', source: '/x', destination: '/data/', readOnly: false }],
        raw: { HostConfig: { Tmpfs: { '/run': 'rw' } } },
      }),
    ).toEqual(['/data', '/run']);
  });
});
