import { describe, expect, it } from 'vitest';
import { volumeContentOf } from './volume-options.js';

describe('volumeContentOf', () => {
  it('tells where a local volume keeps its content from its driver options', () => {
    expect(volumeContentOf({})).toEqual({ kind: 'docker_root' });
    expect(volumeContentOf({ type: 'none', o: 'bind', device: '/srv/app' })).toEqual({
      kind: 'host_path',
      device: '/srv/app',
    });
    expect(volumeContentOf({ type: 'nfs', o: 'addr=10.0.0.5,rw', device: ':/exports/app' })).toEqual({
      kind: 'network_share',
      device: ':/exports/app',
    });
    expect(volumeContentOf({ type: 'cifs', o: 'username=u', device: '//nas/share' }).kind).toBe(
      'network_share',
    );
    expect(volumeContentOf({ o: 'addr=nas.local', device: ':/x' }).kind).toBe('network_share');
    expect(volumeContentOf({ type: 'tmpfs', device: 'tmpfs', o: 'size=100m' }).kind).toBe('tmpfs');
    expect(volumeContentOf({ type: 'ext4', device: '/dev/sdb1' }).kind).toBe('device');
  });
});
