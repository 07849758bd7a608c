// The open routes a new host installs a worker from: /install.sh names the master it was fetched from (and nothing
// a shell would run), /downloads/ serves only what SHA256SUMS lists, and the enrollment answers offer the one-liner
// only when there are archives to install from.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';

import type { ErrorBody, PairingCodeJson } from '../../contract/index.js';
import type { MasterContext } from '../master-context.js';
import { createReleaseDownloads, parseSums, renderInstallScript } from '../release-downloads.js';
import { createHttpApp } from './http-app.js';
import { ADMIN_TOKEN, createTestContext, ENROLLMENT, type TestContext } from './http-test-context.js';

const TEMPLATE = "#!/bin/sh\nMASTER_HTTP='__DM_MASTER_HTTP__'\nMASTER_GRPC='__DM_MASTER_GRPC__'\n";
const ARCHIVE = 'docker-migrate-1.2.3-linux-x64.tar.gz';
const HASH = 'ab'.repeat(32);

let app: FastifyInstance | undefined;
let test: TestContext | undefined;

async function start(overrides: Partial<MasterContext>): Promise<FastifyInstance> {
  test = await createTestContext(overrides);
  app = await createHttpApp(test.context, { logger: test.logger });
  return app;
}

/** A downloads folder with one archive listed, one file not listed, and SHA256SUMS. */
function releaseFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dm-downloads-'));
  writeFileSync(join(dir, ARCHIVE), 'archive bytes');
  writeFileSync(join(dir, 'notes.txt'), 'not served');
  writeFileSync(join(dir, 'SHA256SUMS'), `${HASH}  ${ARCHIVE}\n${HASH}  ../escape.tar.gz\n`);
  return dir;
}

afterEach(async () => {
  await app?.close();
  await test?.store.close();
  app = undefined;
  test = undefined;
});

describe('parseSums', () => {
  it('keeps release archives only, never a path', () => {
    const sums = parseSums(
      `${HASH}  ${ARCHIVE}\n${HASH} *docker-migrate-1.2.3-darwin-x64.tar.gz\n${HASH}  ../x.tar.gz\n${HASH}  /etc/passwd\nnonsense\n`,
    );
    expect([...sums.keys()]).toEqual([ARCHIVE, 'docker-migrate-1.2.3-darwin-x64.tar.gz']);
  });
});

describe('renderInstallScript', () => {
  it('fills in the addresses', () => {
    const script = renderInstallScript(TEMPLATE, 'https://master.lan:8443', 'master.lan:9090');
    expect(script).toContain("MASTER_HTTP='https://master.lan:8443'");
    expect(script).toContain("MASTER_GRPC='master.lan:9090'");
  });

  it('leaves out an address a shell would read as code', () => {
    const script = renderInstallScript(TEMPLATE, "http://x';rm -rf /;'", 'm:9090$(id)');
    expect(script).toContain("MASTER_HTTP=''");
    expect(script).toContain("MASTER_GRPC=''");
  });
});

describe('GET /install.sh', () => {
  it('is open, and names the address the request came to', async () => {
    const server = await start({
      installScript: TEMPLATE,
      releases: createReleaseDownloads(releaseFolder()),
    });
    const response = await server.inject({ url: '/install.sh', headers: { host: 'master.lan:8080' } });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/x-shellscript/);
    expect(response.body).toContain("MASTER_HTTP='http://master.lan:8080'");
    expect(response.body).toContain(`MASTER_GRPC='${ENROLLMENT.masterUrl}'`);
  });

  it('is a JSON 404 when this build has no install script', async () => {
    const server = await start({ installScript: undefined });
    const response = await server.inject({ url: '/install.sh' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ error: { code: 'not_found' } });
  });
});

describe('GET /downloads/:file', () => {
  it('serves SHA256SUMS and the archives it lists, and nothing else', async () => {
    const server = await start({ releases: createReleaseDownloads(releaseFolder()) });
    const archive = await server.inject({ url: `/downloads/${ARCHIVE}` });
    expect(archive.statusCode).toBe(200);
    expect(archive.body).toBe('archive bytes');
    expect(archive.headers['content-type']).toBe('application/gzip');
    expect((await server.inject({ url: '/downloads/SHA256SUMS' })).body).toContain(ARCHIVE);
    for (const name of ['notes.txt', '..%2Fescape.tar.gz', 'docker-migrate-9.9.9-linux-x64.tar.gz']) {
      const refused = await server.inject({ url: `/downloads/${name}` });
      expect(refused.statusCode).toBe(404);
      const { error } = refused.json<ErrorBody>();
      expect(error.code).toBe('not_found');
      expect(error.message).toContain(`it serves SHA256SUMS and ${ARCHIVE}`);
    }
  });

  it('says how to get archives when there are none', async () => {
    const server = await start({
      releases: createReleaseDownloads(mkdtempSync(join(tmpdir(), 'dm-empty-'))),
    });
    const response = await server.inject({ url: '/downloads/SHA256SUMS' });
    expect(response.statusCode).toBe(404);
    expect(response.json<ErrorBody>().error.message).toMatch(
      /^this master serves no release archives: run `make release`/,
    );
  });
});

describe('the install command in enrollment answers', () => {
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}`, host: 'master.lan:8080' };

  it('is offered with the token and CA hash when the master serves archives', async () => {
    const server = await start({
      installScript: TEMPLATE,
      releases: createReleaseDownloads(releaseFolder()),
    });
    const enrollment = await server.inject({ url: '/api/enrollment-token', headers: auth });
    expect(enrollment.json()).toMatchObject({
      install_command: `curl -fsSL http://master.lan:8080/install.sh | sudo sh -s -- --token ${ENROLLMENT.token} --ca-hash ${ENROLLMENT.caHash}`,
    });
    const pairing = await server.inject({ method: 'POST', url: '/api/pairing-codes', headers: auth });
    const answer = pairing.json<PairingCodeJson>();
    expect(answer.install_command).toContain(`--token ${answer.code} `);
  });

  it('is null when there is nothing to install from', async () => {
    const server = await start({ installScript: TEMPLATE });
    const enrollment = await server.inject({ url: '/api/enrollment-token', headers: auth });
    expect(enrollment.json()).toMatchObject({ install_command: null });
  });
});
