// The `ui` node as a real process on a real Docker host: it keeps only the admin token's hash, like `master`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testDockerHost } from '../support/docker-hosts.js';
import { startProcess, tempDir, type RunningProcess } from '../support/processes.js';

const host = testDockerHost(0);
const dataDir = tempDir('ui');
const started: RunningProcess[] = [];

function startUi(): RunningProcess {
  const ui = startProcess(
    [
      'ui',
      '--http-addr',
      '127.0.0.1:0',
      '--grpc-addr',
      '127.0.0.1:0',
      '--relay-addr',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      '--name',
      'local',
    ],
    { DOCKER_HOST: host.socket, DOCKER_MIGRATE_WORKER_GRPC_ADDR: '127.0.0.1:0' },
  );
  started.push(ui);
  return ui;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

afterAll(async () => {
  for (const ui of started) await ui.stop();
});

describe('docker-migrate ui', () => {
  it('shows a new admin token once and keeps no copy of it in its data dir', async () => {
    const first = startUi();
    const token = (await first.waitFor(/admin token:\s+(dm-admin-\S+)/, 60_000))[1]!;
    const apiUrl = (await first.waitFor(/REST API:\s+(https?:\/\/\S+)\/api/))[1]!;
    const signIn = await fetch(`${apiUrl}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    expect(signIn.status).toBe(200);
    expect(await first.stop()).toBe(0);

    const holding = filesUnder(dataDir).filter((file) => readFileSync(file).includes(token));
    expect(holding).toEqual([]);
    expect(first.stdout()).toContain('(shown once: keep it now; only its hash is stored)');

    const second = startUi();
    await second.waitFor(/admin token:\s+as set on first start \(only its hash is stored/, 60_000);
    expect(second.stdout()).not.toContain(token);
  });
});
