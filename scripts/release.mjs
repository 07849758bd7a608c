// Builds the release archives: dist/docker-migrate-<version>-<os>-<arch>.tar.gz, one per platform of
// packaging/platforms.json, each self-contained (a Node.js runtime, the bundle, the web UI, the native add-ons that
// exist for that platform and a `docker-migrate` launcher), and dist/SHA256SUMS.
//
//   node scripts/release.mjs [--platforms linux-x64,linux-arm64,darwin-x64] [--out DIR] [--no-build]
//
// Reproducible: the same sources give the same archives, byte for byte. The build date is the last commit's time
// (or SOURCE_DATE_EPOCH), archive entries are sorted, owned by 0:0 and dated that time, and gzip writes no name or
// time. Runtimes and add-ons for other platforms come from the npm registry as packages, pinned by version and
// checked against the integrity in packaging/platforms.json, and are kept in .cache/release/.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip, createGzip } from 'node:zlib';
import tar from 'tar-stream';

const root = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pins = JSON.parse(readFileSync(join(root, 'packaging', 'platforms.json'), 'utf8'));
const cacheDir = join(root, '.cache', 'release');

function flag(name) {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const platforms = (flag('--platforms') ?? Object.keys(pins.platforms).join(',')).split(',').filter(Boolean);
for (const platform of platforms) {
  if (!pins.platforms[platform]) {
    console.error(
      `release: unknown platform "${platform}" (known: ${Object.keys(pins.platforms).join(', ')})`,
    );
    process.exit(2);
  }
}
const outDir = resolve(root, flag('--out') ?? 'dist');
const hostPlatform = `${process.platform}-${process.arch}`;

function git(...args) {
  return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
}

/** Seconds since the epoch that date the build and every archive entry. */
function sourceDateEpoch() {
  const given = process.env.SOURCE_DATE_EPOCH;
  if (given && /^\d+$/.test(given)) return Number(given);
  try {
    return Number(git('log', '-1', '--format=%ct'));
  } catch {
    return 0;
  }
}
const epoch = sourceDateEpoch();
const mtime = new Date(epoch * 1000);

function run(command, args, env = {}) {
  execFileSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
}

if (!process.argv.includes('--no-build')) {
  run(process.execPath, ['scripts/build.mjs'], { SOURCE_DATE_EPOCH: String(epoch) });
  run(process.execPath, [
    join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
    'build',
    '--logLevel',
    'warn',
  ]);
}
if (!existsSync(join(root, 'bin', 'docker-migrate')) || !existsSync(join(root, 'bin', 'web', 'index.html'))) {
  console.error('release: bin/docker-migrate or bin/web is missing (run without --no-build)');
  process.exit(1);
}

/** An npm package's tarball, fetched once into the cache and checked against its pinned integrity. */
function packageTarball({ package: name, integrity }, version) {
  mkdirSync(cacheDir, { recursive: true });
  const file = join(cacheDir, `${name.replace('@', '').replace('/', '-')}-${version}.tgz`);
  const matches = (path) =>
    existsSync(path) &&
    `sha512-${createHash('sha512').update(readFileSync(path)).digest('base64')}` === integrity;
  if (!matches(file)) {
    const packed = JSON.parse(
      execFileSync('npm', ['pack', `${name}@${version}`, '--json', '--pack-destination', cacheDir], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    renameSync(join(cacheDir, packed[0].filename), file);
    if (!matches(file)) {
      rmSync(file, { force: true });
      throw new Error(`${name}@${version} does not match the integrity pinned in packaging/platforms.json`);
    }
  }
  return file;
}

/** The files of a .tgz whose paths `want` maps to a path in the archive (or undefined to skip). */
async function filesOf(tgz, want) {
  const found = [];
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const to = header.type === 'file' ? want(header.name) : undefined;
    if (to === undefined) {
      stream.on('end', next).resume();
      return;
    }
    const chunks = [];
    stream.on('data', (chunk) => chunks.push(chunk));
    stream.on('end', () => {
      found.push({ path: to, data: Buffer.concat(chunks), mode: header.mode & 0o111 ? 0o755 : 0o644 });
      next();
    });
  });
  await pipeline(createReadStream(tgz), createGunzip(), extract);
  return found;
}

/** Every file under `dir`, as archive entries under `prefix`. */
function tree(dir, prefix) {
  const entries = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) entries.push(...tree(path, `${prefix}/${name}`));
    else entries.push(fileEntry(path, `${prefix}/${name}`));
  }
  return entries;
}

function fileEntry(from, path, mode) {
  const data = readFileSync(from);
  return { path, data, mode: mode ?? (statSync(from).mode & 0o111 ? 0o755 : 0o644) };
}

/** Writes the entries as a gzipped tar that depends on nothing but their paths, bytes and modes. */
async function writeArchive(file, top, entries) {
  const pack = tar.pack();
  const header = (name, extra) => ({ name, mtime, uid: 0, gid: 0, uname: 'root', gname: 'root', ...extra });
  const dirs = new Set([top]);
  for (const entry of entries) {
    const parts = entry.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add([top, ...parts.slice(0, i)].join('/'));
  }
  const all = [
    ...[...dirs].map((dir) => ({ name: `${dir}/`, dir: true })),
    ...entries.map((entry) => ({ name: `${top}/${entry.path}`, entry })),
  ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const written = pipeline(pack, createGzip({ level: 9 }), createWriteStream(`${file}.partial`));
  for (const item of all) {
    if (item.dir) pack.entry(header(item.name, { type: 'directory', mode: 0o755 }));
    else
      pack.entry(
        header(item.name, { type: 'file', mode: item.entry.mode, size: item.entry.data.length }),
        item.entry.data,
      );
  }
  pack.finalize();
  await written;
  renameSync(`${file}.partial`, file);
}

async function platformEntries(platform) {
  const pin = pins.platforms[platform];
  const entries = [];
  // The runtime: only the node binary and its licence from the official build.
  const runtime = await filesOf(packageTarball(pin.runtime, pins.node), (name) =>
    name === 'package/bin/node' ? 'runtime/node' : name === 'package/LICENSE' ? 'runtime/LICENSE' : undefined,
  );
  if (runtime.length !== 2) throw new Error(`${pin.runtime.package} has no bin/node or LICENSE`);
  entries.push(...runtime);
  // The bundle and the web UI, the same for every platform.
  entries.push(fileEntry(join(root, 'bin', 'docker-migrate'), 'lib/docker-migrate', 0o644));
  entries.push(fileEntry(join(root, 'bin', 'package.json'), 'lib/package.json', 0o644));
  entries.push(fileEntry(join(root, 'bin', 'install-worker.sh'), 'lib/install-worker.sh', 0o644));
  entries.push(...tree(join(root, 'bin', 'web'), 'lib/web'));
  // Extended attributes: the binding for this platform, from its own npm package.
  const xattr = await filesOf(packageTarball(pin.xattr, pkg.dependencies['@napi-rs/xattr']), (name) =>
    name.endsWith('.node') ? 'lib/xattr.node' : undefined,
  );
  if (xattr.length !== 1) throw new Error(`${pin.xattr.package} has no .node file`);
  entries.push({ ...xattr[0], mode: 0o644 });
  // Add-ons compiled on this machine serve only its own platform: SQLite (the master), zstd and file times.
  const roles = ['worker', 'cli'];
  if (platform === hostPlatform) {
    for (const addon of ['better_sqlite3.node', 'zstd_napi.node', 'fs_native.node']) {
      if (existsSync(join(root, 'bin', addon)))
        entries.push(fileEntry(join(root, 'bin', addon), `lib/${addon}`, 0o644));
    }
    if (existsSync(join(root, 'bin', 'better_sqlite3.node'))) roles.unshift('master');
  }
  entries.push(fileEntry(join(root, 'packaging', 'docker-migrate'), 'docker-migrate', 0o755));
  for (const name of [
    'docker-migrate-master.service',
    'docker-migrate-worker.service',
    'com.dockation.docker-migrate-worker.plist',
  ]) {
    entries.push(fileEntry(join(root, 'packaging', name), `packaging/${name}`, 0o644));
  }
  entries.push(fileEntry(join(root, 'LICENSE'), 'LICENSE', 0o644));
  const commit = (() => {
    try {
      return git('rev-parse', '--short=12', 'HEAD');
    } catch {
      return 'unknown';
    }
  })();
  const about = {
    name: 'docker-migrate',
    version: pkg.version,
    commit,
    platform,
    node: pins.node,
    roles,
    date: mtime.toISOString(),
  };
  entries.push({
    path: 'release.json',
    data: Buffer.from(`${JSON.stringify(about, null, 2)}\n`),
    mode: 0o644,
  });
  return { entries, roles };
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

mkdirSync(outDir, { recursive: true });
for (const platform of platforms) {
  const top = `docker-migrate-${pkg.version}-${platform}`;
  const file = join(outDir, `${top}.tar.gz`);
  const { entries, roles } = await platformEntries(platform);
  await writeArchive(file, top, entries);
  console.log(
    `${relative(root, file)}  ${(statSync(file).size / 2 ** 20).toFixed(1)} MiB  (${roles.join(', ')})`,
  );
}
// SHA256SUMS lists every archive of this version in the folder, so that building one platform after another keeps
// the others.
const archives = readdirSync(outDir)
  .filter((name) => name.startsWith(`docker-migrate-${pkg.version}-`) && name.endsWith('.tar.gz'))
  .sort();
writeFileSync(
  join(outDir, 'SHA256SUMS'),
  archives.map((name) => `${sha256(join(outDir, name))}  ${name}\n`).join(''),
);
console.log(`${relative(root, join(outDir, 'SHA256SUMS'))}  ${archives.length} archives`);
