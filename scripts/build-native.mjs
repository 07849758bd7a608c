// Compiles the native add-on (native/fs-native.c: nanosecond file times, hole seeking) into native/build/ with the
// system C compiler. No node-gyp and nothing downloaded: it works offline. A missing compiler or a failed build is
// reported and exits 0, since the product then runs without the add-on (times to the µs, sparse files read whole).
//   node scripts/build-native.mjs [--force] [--headers DIR]     CC chooses the compiler (default cc)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const source = join(root, 'native', 'fs-native.c');
const output = join(root, 'native', 'build', 'fs_native.node');
const EXPORTS = ['setTimesFd', 'setTimesPath', 'dataRegions'];

const args = process.argv.slice(2);
const force = args.includes('--force');
const headersFlag = args.indexOf('--headers');
const headersArg = headersFlag >= 0 ? args[headersFlag + 1] : undefined;

/** The folder holding node_api.h: --headers, else the node-api-headers package, else Node's own headers. */
function headersDir() {
  if (headersArg !== undefined) return existsSync(join(headersArg, 'node_api.h')) ? headersArg : undefined;
  try {
    const dir = createRequire(import.meta.url)('node-api-headers').include_dir;
    if (typeof dir === 'string' && existsSync(join(dir, 'node_api.h'))) return dir;
  } catch {
    // Not installed (npm ci not run yet, or dev dependencies omitted): try the headers Node installs with itself.
  }
  const own = join(dirname(dirname(process.execPath)), 'include', 'node');
  return existsSync(join(own, 'node_api.h')) ? own : undefined;
}

function upToDate() {
  if (force || !existsSync(output)) return false;
  const built = statSync(output).mtimeMs;
  return built >= statSync(source).mtimeMs && built >= statSync(fileURLToPath(import.meta.url)).mtimeMs;
}

/** Loads the fresh build in this process, so that a file that compiles but cannot load is not shipped. */
function check(file) {
  const module = { exports: {} };
  process.dlopen(module, file);
  const missing = EXPORTS.filter((name) => typeof module.exports[name] !== 'function');
  if (missing.length > 0) throw new Error(`the built add-on lacks ${missing.join(', ')}`);
}

function giveUp(reason, remedy = 'install a C compiler (Debian: apt-get install gcc)') {
  rmSync(output, { force: true });
  console.warn(
    `warning: the native add-on was not built: ${reason}\n` +
      '  docker-migrate still works, but sets file times to the microsecond and reads sparse files whole.\n' +
      `  To build it, ${remedy}, then run: node scripts/build-native.mjs`,
  );
  process.exit(0);
}

if (upToDate()) process.exit(0);

const headers = headersDir();
if (headers === undefined) {
  giveUp(
    headersArg === undefined ? 'no Node-API headers found' : `no node_api.h in ${headersArg}`,
    'run npm ci (it installs node-api-headers)',
  );
}
const cc = process.env.CC || 'cc';
mkdirSync(dirname(output), { recursive: true });
// Written under another name and renamed, so that a process loading the add-on never sees half a file.
const partial = `${output}.${process.pid}.tmp`;
try {
  execFileSync(cc, ['-O2', '-shared', '-fPIC', '-Wall', '-Wextra', '-I', headers, source, '-o', partial], {
    stdio: 'inherit',
  });
  check(partial);
  renameSync(partial, output);
} catch (error) {
  rmSync(partial, { force: true });
  if (error.code === 'ENOENT') giveUp(`no C compiler (${cc}) on PATH`);
  // A compiler that ran and failed has printed why; otherwise (the built file would not load) the error says it.
  const compilerFailed = typeof error.status === 'number';
  giveUp(
    compilerFailed ? `${cc} failed (its messages are above)` : error.message,
    'fix what the messages say',
  );
}
console.log(`built ${relative(root, output)} (Node-API 8, headers from ${headers})`);
