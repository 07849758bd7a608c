// The stored identity keeps the list of masters, and a worker still reads a file from before there were several.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadWorkerIdentity, saveWorkerIdentity, type WorkerIdentity } from './worker-identity.js';

const IDENTITY: WorkerIdentity = {
  workerId: 'w-0123456789ab',
  masterUrls: ['m1.example:9090', '[fd00::2]:9090'],
  caHash: 'sha256:00',
  enrolledAt: '2026-01-02T03:04:05.000Z',
  keyPem: 'KEY',
  certPem: 'CERT',
  caPem: 'CA',
};

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dm-identity-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('worker identity', () => {
  it('keeps the masters in their order, and the first one where an older worker reads it', () => {
    const dir = tempDir();
    saveWorkerIdentity(dir, IDENTITY);
    expect(loadWorkerIdentity(dir)).toEqual(IDENTITY);
    const file = JSON.parse(readFileSync(join(dir, 'identity.json'), 'utf8')) as Record<string, unknown>;
    expect(file.master_urls).toEqual(['m1.example:9090', '[fd00::2]:9090']);
    expect(file.master_url).toBe('m1.example:9090');
  });

  it('reads a file written before workers took several masters', () => {
    const dir = tempDir();
    saveWorkerIdentity(dir, IDENTITY);
    writeFileSync(
      join(dir, 'identity.json'),
      JSON.stringify({
        worker_id: IDENTITY.workerId,
        master_url: 'old.example:9090',
        ca_hash: IDENTITY.caHash,
        enrolled_at: IDENTITY.enrolledAt,
      }),
    );
    expect(loadWorkerIdentity(dir)?.masterUrls).toEqual(['old.example:9090']);
  });

  it('calls a file naming no master damaged', () => {
    const dir = tempDir();
    saveWorkerIdentity(dir, IDENTITY);
    writeFileSync(
      join(dir, 'identity.json'),
      JSON.stringify({ worker_id: IDENTITY.workerId, master_urls: [] }),
    );
    expect(() => loadWorkerIdentity(dir)).toThrow(/is damaged/);
  });
});
