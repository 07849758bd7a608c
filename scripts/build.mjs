// Bundles the CLI into bin/docker-migrate: one executable Node script (CommonJS, so it runs wherever it is copied).
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

function gitCommit() {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${commit}-dirty` : commit;
  } catch {
    return 'unknown';
  }
}

// SOURCE_DATE_EPOCH (seconds; set by scripts/release.mjs to the commit's time) fixes the build date, so that the same
// sources always bundle to the same bytes.
const epoch = process.env.SOURCE_DATE_EPOCH;
const buildDate = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
const info = { version: pkg.version, commit: gitCommit(), date: buildDate.toISOString() };

mkdirSync('bin', { recursive: true });
// bin/ sits inside a "type": "module" package; this marker lets Node run the extensionless CommonJS bundle there.
writeFileSync('bin/package.json', '{ "type": "commonjs" }\n');

await build({
  entryPoints: ['src/cli/main.ts'],
  outfile: 'bin/docker-migrate',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  define: {
    __DOCKER_MIGRATE_BUILD__: JSON.stringify(info),
    // CommonJS has no import.meta: point it at the bundle's own file URL (set by the banner).
    'import.meta.url': '__bundle_file_url',
  },
  banner: { js: 'const __bundle_file_url = require("url").pathToFileURL(__filename).href;' },
  // Optional native add-ons of ssh2 (used only for ssh:// engines): loaded when present, never bundled.
  external: ['cpu-features', '*.node'],
});
chmodSync('bin/docker-migrate', 0o755);
// better-sqlite3's native add-on cannot be bundled: it ships beside the binary, which passes its path explicitly.
const sqliteRoot = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
copyFileSync(join(sqliteRoot, 'build', 'Release', 'better_sqlite3.node'), 'bin/better_sqlite3.node');
// zstd-napi's add-on (compression: zstd) ships beside it too, and is loaded from there when a transfer needs it; a
// clone where it did not build still gets a binary, whose zstd transfers fail in words.
const require = createRequire(import.meta.url);
let zstdAddon;
try {
  zstdAddon = join(dirname(require.resolve('zstd-napi/package.json')), 'build', 'Release', 'binding.node');
} catch {
  zstdAddon = undefined;
}
if (zstdAddon && existsSync(zstdAddon)) copyFileSync(zstdAddon, 'bin/zstd_napi.node');
else {
  rmSync('bin/zstd_napi.node', { force: true });
  console.warn('zstd-napi is not built: bin/docker-migrate will refuse compression "zstd" (run npm ci)');
}
// @napi-rs/xattr's binding for this platform (extended attributes of volume files) ships beside it as xattr.node:
// its package's loader requires a .node file, which cannot be bundled (src/platform/xattr-binding.ts loads it).
const xattrPackage = ['gnu', 'musl']
  .map((libc) =>
    process.platform === 'linux'
      ? `@napi-rs/xattr-linux-${process.arch}-${libc}`
      : `@napi-rs/xattr-${process.platform}-${process.arch}`,
  )
  .find((name) => {
    try {
      require.resolve(name);
      return true;
    } catch {
      return false;
    }
  });
if (xattrPackage) copyFileSync(require.resolve(xattrPackage), 'bin/xattr.node');
else {
  rmSync('bin/xattr.node', { force: true });
  console.warn(
    'no @napi-rs/xattr binding for this platform: bin/docker-migrate cannot carry extended attributes',
  );
}
// Our own add-on (nanosecond file times, hole seeking) ships beside it when this machine could compile it; without
// it the binary still runs, with times to the µs (scripts/build-native.mjs says why it was not built).
execFileSync(process.execPath, ['scripts/build-native.mjs'], { stdio: 'inherit' });
if (existsSync('native/build/fs_native.node'))
  copyFileSync('native/build/fs_native.node', 'bin/fs_native.node');
else rmSync('bin/fs_native.node', { force: true });
// The worker install script the master serves at /install.sh (with its own addresses filled in).
copyFileSync('packaging/install-worker.sh', 'bin/install-worker.sh');
console.log(`built bin/docker-migrate ${info.version} (${info.commit})`);
