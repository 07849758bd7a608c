// Unit tests of config loading: defaults, the JSON file, DOCKER_MIGRATE_* env, flags, and readable errors.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { AppError } from '../core/errors.js';
import { CONFIG_PATHS, ENV_VARIABLES, loadConfig, loadConfigFromProcess } from './config.js';
import type { ConfigPath, ConfigProblem, ConfigSources } from './config.js';

const HOME = '/home/ann';
const FILE = '/etc/docker-migrate.json';

/** Loads with an in-memory file system: `files` maps a path to its text. */
function load(
  sources: Partial<ConfigSources> & { files?: Record<string, unknown> } = {},
): ReturnType<typeof loadConfig> {
  const { files = {}, ...rest } = sources;
  return loadConfig({
    homeDir: HOME,
    env: {},
    readFile: (path) => {
      const content = files[path];
      if (content === undefined) return undefined;
      return typeof content === 'string' ? content : JSON.stringify(content);
    },
    ...rest,
  });
}

/** The AppError a load throws, so that a test can read its message and details. */
function loadError(sources: Parameters<typeof load>[0]): AppError {
  try {
    load(sources);
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

function issues(error: AppError): ConfigProblem[] {
  return error.details?.issues as ConfigProblem[];
}

describe('loadConfig', () => {
  it('fills in every default when nothing is set and the default file is absent', () => {
    expect(load()).toEqual({
      http_addr: ':8080',
      grpc_addr: ':9090',
      log_level: 'info',
      log_format: 'auto',
      data_dir: '/home/ann/.docker-migrate',
      docker: {
        host: 'unix:///var/run/docker.sock',
        cert_path: '/home/ann/.docker',
        tls_verify: false,
        tls: false,
      },
      master: {
        worker_timeout: 30_000,
        heartbeat_interval: 10_000,
        inventory_interval: 60_000,
        ready_timeout: 120_000,
        rollback_timeout: 600_000,
        transfer_stall_timeout: 60_000,
        relay_addr: ':9091',
        failpoints: '',
        session_ttl: 43_200_000,
        trust_proxy: false,
      },
      worker: {
        labels: {},
        reconnect_interval: 5_000,
        max_reconnect_interval: 300_000,
        volume_access: 'auto',
      },
    });
  });

  it('reads a complete config file', () => {
    const config = load({
      configFile: FILE,
      files: {
        [FILE]: {
          role: 'worker',
          http_addr: '127.0.0.1:8081',
          log_level: 'debug',
          log_format: 'json',
          data_dir: '/var/lib/docker-migrate',
          docker: { host: 'tcp://10.0.0.2:2376', tls_verify: true },
          master: { admin_token: 'adm', enrollment_token: 'enr', worker_timeout: '45s' },
          worker: {
            master_url: 'https://master:9090',
            token: 'wt',
            ca_hash: 'sha256:ab',
            name: 'edge-1',
            labels: { zone: 'a' },
            advertise_addr: '10.0.0.2:9091',
            reconnect_interval: 1000,
          },
        },
      },
    });
    expect(config).toMatchObject({
      role: 'worker',
      http_addr: '127.0.0.1:8081',
      grpc_addr: ':9090',
      log_level: 'debug',
      log_format: 'json',
      data_dir: '/var/lib/docker-migrate',
      docker: { host: 'tcp://10.0.0.2:2376', tls_verify: true, tls: false, cert_path: '/home/ann/.docker' },
      master: {
        admin_token: 'adm',
        enrollment_token: 'enr',
        worker_timeout: 45_000,
        heartbeat_interval: 10_000,
      },
      worker: {
        master_url: 'https://master:9090',
        token: 'wt',
        ca_hash: 'sha256:ab',
        name: 'edge-1',
        labels: { zone: 'a' },
        advertise_addr: '10.0.0.2:9091',
        reconnect_interval: 1_000,
        max_reconnect_interval: 300_000,
      },
    });
  });

  it('keeps the other defaults of a partial nested block', () => {
    const config = load({ configFile: FILE, files: { [FILE]: { master: { worker_timeout: '5s' } } } });
    expect(config.master).toEqual({
      worker_timeout: 5_000,
      heartbeat_interval: 10_000,
      inventory_interval: 60_000,
      ready_timeout: 120_000,
      rollback_timeout: 600_000,
      transfer_stall_timeout: 60_000,
      relay_addr: ':9091',
      failpoints: '',
      session_ttl: 43_200_000,
      trust_proxy: false,
    });
    expect(config.docker.host).toBe('unix:///var/run/docker.sock');
    expect(config.worker.reconnect_interval).toBe(5_000);
  });

  it('takes each setting from the highest source that sets it: flags, env, file, defaults', () => {
    const config = load({
      configFile: FILE,
      files: {
        [FILE]: {
          http_addr: ':1000',
          grpc_addr: ':1001',
          log_level: 'warn',
          master: { worker_timeout: '1s', heartbeat_interval: '2s' },
        },
      },
      env: {
        DOCKER_MIGRATE_GRPC_ADDR: ':2001',
        DOCKER_MIGRATE_LOG_LEVEL: 'error',
        DOCKER_MIGRATE_MASTER_WORKER_TIMEOUT: '3s',
      },
      flags: { log_level: 'debug', master: { worker_timeout: '4s' } },
    });
    expect(config).toMatchObject({
      http_addr: ':1000',
      grpc_addr: ':2001',
      log_level: 'debug',
      log_format: 'auto',
      master: { worker_timeout: 4_000, heartbeat_interval: 2_000, inventory_interval: 60_000 },
    });
  });

  it('ignores flags left undefined and does not change the flags object', () => {
    const flags = { log_level: undefined, master: { worker_timeout: undefined, heartbeat_interval: '1s' } };
    const before = structuredClone(flags);
    const config = load({ env: { DOCKER_MIGRATE_LOG_LEVEL: 'warn' }, flags });
    expect(config.log_level).toBe('warn');
    expect(config.master).toMatchObject({ worker_timeout: 30_000, heartbeat_interval: 1_000 });
    expect(flags).toEqual(before);
  });

  it('reads durations as Go-style strings, numbers and numeric strings from every source', () => {
    const config = load({
      configFile: FILE,
      files: { [FILE]: { master: { worker_timeout: '1m30s', heartbeat_interval: 2500 } } },
      env: { DOCKER_MIGRATE_MASTER_INVENTORY_INTERVAL: '1500' },
      flags: { worker: { reconnect_interval: '500ms', max_reconnect_interval: '1h' } },
    });
    expect(config.master).toEqual({
      worker_timeout: 90_000,
      heartbeat_interval: 2_500,
      inventory_interval: 1_500,
      ready_timeout: 120_000,
      rollback_timeout: 600_000,
      transfer_stall_timeout: 60_000,
      relay_addr: ':9091',
      failpoints: '',
      session_ttl: 43_200_000,
      trust_proxy: false,
    });
    expect(config.worker).toMatchObject({ reconnect_interval: 500, max_reconnect_interval: 3_600_000 });
  });

  it('maps DOCKER_MIGRATE_ variables to their setting by path', () => {
    const config = load({
      env: {
        DOCKER_MIGRATE_ROLE: 'master',
        DOCKER_MIGRATE_LOG_LEVEL: 'trace',
        DOCKER_MIGRATE_DATA_DIR: '/data',
        DOCKER_MIGRATE_WORKER_DATA_DIR: '/worker-data',
        DOCKER_MIGRATE_MASTER_WORKER_TIMEOUT: '10s',
        DOCKER_MIGRATE_WORKER_LABELS: 'zone=a, tier = db,',
        DOCKER_MIGRATE_DOCKER_TLS: 'true',
      },
    });
    expect(config).toMatchObject({
      role: 'master',
      log_level: 'trace',
      data_dir: '/data',
      docker: { tls: true },
      master: { worker_timeout: 10_000 },
      worker: { data_dir: '/worker-data', labels: { zone: 'a', tier: 'db' } },
    });
  });

  it('accepts the short variable names for tokens and the master URL, the full name winning', () => {
    const config = load({
      env: {
        DOCKER_MIGRATE_ADMIN_TOKEN: 'adm',
        DOCKER_MIGRATE_ENROLLMENT_TOKEN: 'enr',
        DOCKER_MIGRATE_TOKEN: 'short',
        DOCKER_MIGRATE_WORKER_TOKEN: 'full',
        DOCKER_MIGRATE_MASTER_URL: 'https://m:9090',
      },
    });
    expect(config.master).toMatchObject({ admin_token: 'adm', enrollment_token: 'enr' });
    expect(config.worker).toMatchObject({ token: 'full', master_url: 'https://m:9090' });
  });

  it("reads the Docker CLI's DOCKER_HOST, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY and DOCKER_TLS", () => {
    const config = load({
      env: {
        DOCKER_HOST: 'tcp://h:2376',
        DOCKER_CERT_PATH: '~/certs',
        DOCKER_TLS_VERIFY: '1',
        DOCKER_TLS: 'yes',
      },
    });
    expect(config.docker).toEqual({
      host: 'tcp://h:2376',
      cert_path: '/home/ann/certs',
      tls_verify: true,
      tls: true,
    });
  });

  it.each(['0', 'false', 'FALSE'])('reads DOCKER_TLS_VERIFY=%s as off, over the file', (value) => {
    const config = load({
      configFile: FILE,
      files: { [FILE]: { docker: { tls_verify: true } } },
      env: { DOCKER_TLS_VERIFY: value },
    });
    expect(config.docker.tls_verify).toBe(false);
  });

  it('prefers DOCKER_MIGRATE_DOCKER_HOST to DOCKER_HOST, and the file to neither', () => {
    const env = { DOCKER_HOST: 'tcp://docker:2375', DOCKER_MIGRATE_DOCKER_HOST: 'tcp://ours:2375' };
    const files = { [FILE]: { docker: { host: 'tcp://file:2375' } } };
    expect(load({ env, configFile: FILE, files }).docker.host).toBe('tcp://ours:2375');
    expect(load({ env: { DOCKER_HOST: 'tcp://docker:2375' }, configFile: FILE, files }).docker.host).toBe(
      'tcp://docker:2375',
    );
  });

  it('ignores empty environment variables', () => {
    const config = load({
      configFile: FILE,
      files: { [FILE]: { log_level: 'warn' } },
      env: { DOCKER_MIGRATE_LOG_LEVEL: '', DOCKER_HOST: '', DOCKER_MIGRATE_NOT_A_SETTING: '' },
    });
    expect(config.log_level).toBe('warn');
    expect(config.docker.host).toBe('unix:///var/run/docker.sock');
  });

  it('reads labels from a "k=v,k2=v2" flag and replaces lower-source labels whole', () => {
    const config = load({
      configFile: FILE,
      files: { [FILE]: { worker: { labels: { zone: 'a', rack: '3' } } } },
      flags: { worker: { labels: 'zone=b,disk=ssd=fast' } },
    });
    expect(config.worker.labels).toEqual({ zone: 'b', disk: 'ssd=fast' });
  });

  it('reads booleans given as strings by flags', () => {
    expect(load({ flags: { docker: { tls_verify: 'true', tls: 'off' } } }).docker).toMatchObject({
      tls_verify: true,
      tls: false,
    });
  });

  it('expands a leading "~" in path settings and the config file path', () => {
    const config = load({
      configFile: '~/conf.json',
      files: { '/home/ann/conf.json': { data_dir: '~/data', worker: { data_dir: '~' } } },
      flags: { docker: { cert_path: '~/tls' } },
    });
    expect(config.data_dir).toBe('/home/ann/data');
    expect(config.worker.data_dir).toBe('/home/ann');
    expect(config.docker.cert_path).toBe('/home/ann/tls');
    expect(load({ flags: { data_dir: '~bob/data' } }).data_dir).toBe('~bob/data');
  });

  it('asks masters on PostgreSQL for the key-encryption key file, saying how to make one', () => {
    const store_url = 'postgres://dm@db:5432/dm';
    expect(issues(loadError({ flags: { role: 'master', store_url } }))).toEqual([
      {
        path: 'ca_key_kek',
        message:
          'masters on PostgreSQL (store_url) need a key-encryption key file (--ca-key-kek FILE), the same for every master; create one with: head -c 32 /dev/urandom > kek && chmod 600 kek',
      },
    ]);
    const given = load({ flags: { store_url }, env: { DOCKER_MIGRATE_CA_KEY_KEK: '~/kek' } });
    expect(given.ca_key_kek).toBe('/home/ann/kek');
    // Without store_url the CA stays in the data dir; a worker never reads either.
    expect(load({ flags: { role: 'master' } }).ca_key_kek).toBeUndefined();
    expect(load({ flags: { role: 'worker', store_url } }).ca_key_kek).toBeUndefined();
  });

  it('lets every setting be set from the environment and a file, and has no setting missing from the list', () => {
    const samples: Record<ConfigPath, string> = {
      role: 'ui',
      api_url: 'http://m:8080',
      http_addr: ':1',
      grpc_addr: ':2',
      log_level: 'fatal',
      log_format: 'pretty',
      data_dir: '/d',
      store_url: 'postgres://dm@db:5432/dm',
      ca_key_kek: '/k/kek',
      'docker.host': 'tcp://x:1',
      'docker.cert_path': '/c',
      'docker.tls_verify': 'true',
      'docker.tls': 'true',
      'master.enrollment_token': 'e',
      'master.admin_token': 'a',
      'master.worker_timeout': '1s',
      'master.heartbeat_interval': '2s',
      'master.inventory_interval': '3s',
      'master.advertise_addr': 'm:9',
      'master.ready_timeout': '6s',
      'master.rollback_timeout': '7s',
      'master.relay_addr': '127.0.0.1:7',
      'master.transfer_stall_timeout': '9s',
      'master.failpoints': 'pause:create=1s',
      'master.session_ttl': '8s',
      'master.http_tls_cert': '/tls/cert.pem',
      'master.http_tls_key': '/tls/key.pem',
      'master.trust_proxy': 'true',
      'master.downloads_dir': '/srv/releases',
      'worker.master_url': 'https://m',
      'worker.token': 't',
      'worker.ca_hash': 'h',
      'worker.name': 'n',
      'worker.labels': 'k=v',
      'worker.data_dir': '/w',
      'worker.grpc_addr': ':3',
      'worker.advertise_addr': 'w:3',
      'worker.reconnect_interval': '4s',
      'worker.max_reconnect_interval': '5s',
      'worker.volume_access': 'engine',
    };
    const env = Object.fromEntries(
      Object.entries(ENV_VARIABLES).map(([name, path]) => [name, samples[path]]),
    );
    const file: Record<string, unknown> = {};
    for (const path of CONFIG_PATHS) {
      const [group, key] = path.split('.');
      if (key === undefined) file[path] = samples[path];
      else file[group!] = { ...(file[group!] as object), [key]: samples[path] };
    }
    const fromEnv = load({ env });
    const fromFile = load({ configFile: FILE, files: { [FILE]: file } });
    expect(fromFile).toEqual(fromEnv);
    expect(leafPaths(fromEnv).sort()).toEqual([...CONFIG_PATHS].sort());
    expect(fromEnv).toMatchObject({
      role: 'ui',
      master: { worker_timeout: 1_000 },
      worker: { labels: { k: 'v' } },
    });
  });
});

describe('loadConfig config file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'docker-migrate-config-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads <home>/.docker-migrate/config.json when no file is named', () => {
    mkdirSync(join(dir, '.docker-migrate'));
    writeFileSync(join(dir, '.docker-migrate', 'config.json'), '\uFEFF{ "log_level": "debug" }\n');
    expect(loadConfig({ homeDir: dir, env: {} }).log_level).toBe('debug');
  });

  it('skips the default file when it does not exist', () => {
    expect(loadConfig({ homeDir: dir, env: {} }).log_level).toBe('info');
  });

  it('reads the file named by DOCKER_MIGRATE_CONFIG, and --config over it', () => {
    writeFileSync(join(dir, 'env.json'), '{ "log_level": "warn" }');
    writeFileSync(join(dir, 'flag.json'), '{ "log_level": "error" }');
    const env = { DOCKER_MIGRATE_CONFIG: join(dir, 'env.json') };
    expect(loadConfig({ homeDir: dir, env }).log_level).toBe('warn');
    expect(loadConfig({ homeDir: dir, env, configFile: join(dir, 'flag.json') }).log_level).toBe('error');
  });

  it('rejects a named file that does not exist', () => {
    const missing = join(dir, 'missing.json');
    expect(() => loadConfig({ homeDir: dir, env: {}, configFile: missing })).toThrow(
      `invalid configuration:\n  - config file not found: ${missing}`,
    );
    expect(() => loadConfig({ homeDir: dir, env: { DOCKER_MIGRATE_CONFIG: missing } })).toThrow(
      `config file not found: ${missing}`,
    );
  });

  it('reports a file it cannot read', () => {
    expect(() => loadConfig({ homeDir: dir, env: {}, configFile: dir })).toThrow(
      new RegExp(`cannot read config file ${dir}: .*EISDIR`),
    );
  });
});

describe('HTTPS of the HTTP listener', () => {
  it('takes the certificate, key and trust in a proxy from flags, env or file, "~" expanded', () => {
    const env = {
      DOCKER_MIGRATE_MASTER_HTTP_TLS_CERT: '~/tls/cert.pem',
      DOCKER_MIGRATE_MASTER_HTTP_TLS_KEY: '/etc/tls/key.pem',
      DOCKER_MIGRATE_MASTER_TRUST_PROXY: 'true',
    };
    expect(load({ env }).master).toMatchObject({
      http_tls_cert: '/home/ann/tls/cert.pem',
      http_tls_key: '/etc/tls/key.pem',
      trust_proxy: true,
    });
    const flags = { master: { http_tls_cert: '/a.pem', http_tls_key: '/b.pem', trust_proxy: false } };
    expect(load({ env, flags }).master).toMatchObject({
      http_tls_cert: '/a.pem',
      http_tls_key: '/b.pem',
      trust_proxy: false,
    });
    expect(load().master.http_tls_cert).toBeUndefined();
  });

  it('refuses a certificate without a key, and a key without a certificate', () => {
    for (const [given, missing] of [
      [{ http_tls_cert: '/a.pem' }, 'master.http_tls_key'],
      [{ http_tls_key: '/b.pem' }, 'master.http_tls_cert'],
    ] as const) {
      const error = loadError({ flags: { master: given } });
      expect(error.code).toBe('invalid_argument');
      expect(issues(error)).toContainEqual(
        expect.objectContaining({
          path: missing,
          message: expect.stringContaining('--http-tls-cert FILE --http-tls-key FILE') as string,
        }),
      );
    }
  });
});

describe('loadConfig errors', () => {
  it('lists every problem together, each with its path and source', () => {
    const error = loadError({
      configFile: FILE,
      files: {
        [FILE]: {
          http_addr: 8080,
          master: { worker_timeout: '5x' },
          worker: { nmae: 'edge', labels: { zone: 1 } },
          extra: { deep: true },
        },
      },
      env: { DOCKER_MIGRATE_FOO: '1', DOCKER_MIGRATE_MASTER_HEARTBEAT_INTERVAL: 'soon' },
      flags: { log_format: 'fancy', docker: { tls: 'maybe' }, worker: { labels: 'zone' } },
    });
    expect(error.code).toBe('invalid_argument');
    const lines = error.message.split('\n');
    expect(lines[0]).toBe('invalid configuration:');
    expect(lines.slice(1).sort()).toEqual(
      [
        `  - DOCKER_MIGRATE_FOO (environment): unknown variable`,
        `  - http_addr (config file ${FILE}): expected a string, got a number`,
        `  - log_format (flags): expected one of "auto", "json", "pretty", got "fancy"`,
        `  - docker.tls (flags): invalid boolean "maybe": use true or false`,
        `  - master.worker_timeout (config file ${FILE}): invalid duration "5x": use a number of milliseconds or a value like "30s", "5m", "1h30m"`,
        `  - master.heartbeat_interval (environment DOCKER_MIGRATE_MASTER_HEARTBEAT_INTERVAL): invalid duration "soon": use a number of milliseconds or a value like "30s", "5m", "1h30m"`,
        `  - worker.nmae (config file ${FILE}): unknown key (did you mean "name"?)`,
        `  - worker.labels (flags): invalid label "zone": use "key=value" pairs separated by commas`,
        `  - extra (config file ${FILE}): unknown key`,
      ].sort(),
    );
    expect(issues(error)).toContainEqual({
      path: 'master.worker_timeout',
      source: `config file ${FILE}`,
      message: expect.stringContaining('invalid duration "5x"') as string,
    });
    expect(error.hint).toContain(FILE);
  });

  it('names the path of an unknown key however deep it is', () => {
    const error = loadError({ flags: { master: { timeouts: { worker: '1s' } } } });
    expect(issues(error)).toEqual([{ path: 'master.timeouts', source: 'flags', message: 'unknown key' }]);
  });

  it('names the label of a wrong type inside labels', () => {
    const error = loadError({ configFile: FILE, files: { [FILE]: { worker: { labels: { zone: 1 } } } } });
    expect(issues(error)).toEqual([
      {
        path: 'worker.labels.zone',
        source: `config file ${FILE}`,
        message: 'expected a string, got a number',
      },
    ]);
  });

  it('reports bad JSON with the file and the problem, alongside the other sources’ problems', () => {
    const error = loadError({
      configFile: FILE,
      files: { [FILE]: '{\n  "log_level": "debug",\n  "admin_token": "s3cret" x\n}' },
      env: { DOCKER_MIGRATE_LOG_LEVL: 'debug' },
    });
    expect(error.message).toMatch(
      new RegExp(`^  - config file ${FILE} is not valid JSON: .*\\(line 3, column 27\\)$`, 'm'),
    );
    expect(error.message).toContain(
      'DOCKER_MIGRATE_LOG_LEVL (environment): unknown variable (did you mean "DOCKER_MIGRATE_LOG_LEVEL"?)',
    );
    expect(error.message).not.toContain('s3cret');
  });

  it('rejects a file whose top level is not an object', () => {
    expect(() => load({ configFile: FILE, files: { [FILE]: '["a"]' } })).toThrow(
      `config file ${FILE} must hold a JSON object ({...}), not an array`,
    );
  });

  it('rejects a wrong type for a whole block', () => {
    const error = loadError({ configFile: FILE, files: { [FILE]: { master: 'yes' } } });
    expect(issues(error)).toEqual([
      { path: 'master', source: `config file ${FILE}`, message: 'expected an object, got a string' },
    ]);
  });

  it('does not report a bad value that a higher source replaces', () => {
    const config = load({
      configFile: FILE,
      files: { [FILE]: { master: { worker_timeout: '5x' } } },
      flags: { master: { worker_timeout: '5s' } },
    });
    expect(config.master.worker_timeout).toBe(5_000);
  });
});

describe('loadConfigFromProcess', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'docker-migrate-config-'));
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads process.env, the named file and the flags', () => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ http_addr: ':7000', grpc_addr: ':7001' }));
    vi.stubEnv('DOCKER_MIGRATE_GRPC_ADDR', ':7002');
    vi.stubEnv('DOCKER_MIGRATE_LOG_LEVEL', 'error');
    const config = loadConfigFromProcess({ log_level: 'debug' }, file);
    expect(config).toMatchObject({ http_addr: ':7000', grpc_addr: ':7002', log_level: 'debug' });
  });
});

/** Dotted paths of the leaves of a loaded config; labels count as one leaf. */
function leafPaths(value: object, prefix = ''): string[] {
  return Object.entries(value as Record<string, unknown>).flatMap(([key, item]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    return typeof item === 'object' && item !== null && path !== 'worker.labels'
      ? leafPaths(item, path)
      : [path];
  });
}
