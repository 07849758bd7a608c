// @napi-rs/xattr's native binding, loaded by path: its own loader requires a platform package whose main file is a
// .node add-on, which a bundle cannot hold, so the bundled binary carries the file beside it (xattr.node, copied
// by scripts/build.mjs) and the source tree takes it from the platform package npm installed.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';

import { AppError } from '../core/errors.js';
import { bundledAsset, isBundled } from './build-info.js';

/** The binding's file name beside bin/docker-migrate. */
export const XATTR_ADDON_FILE = 'xattr.node';

/** What @napi-rs/xattr exports (errors carry "(os error N)"; symlinks are never followed). */
export interface XattrBinding {
  getAttribute(path: string, name: string): Promise<Buffer | null>;
  getAttributeSync(path: string, name: string): Buffer | null;
  listAttributes(path: string): Promise<string[]>;
  listAttributesSync(path: string): string[];
  setAttributeSync(path: string, name: string, value: Uint8Array | string): void;
  removeAttributeSync(path: string, name: string): void;
}

/** The platform packages of @napi-rs/xattr that can serve this process, in order of preference. */
function platformPackages(): string[] {
  const { platform, arch } = process;
  if (platform === 'linux') return [`@napi-rs/xattr-linux-${arch}-gnu`, `@napi-rs/xattr-linux-${arch}-musl`];
  return [`@napi-rs/xattr-${platform}-${arch}`];
}

/** Where the binding is: beside the binary, or in the platform package of the source tree. */
export function xattrAddonPath(): string | undefined {
  if (isBundled()) return bundledAsset(XATTR_ADDON_FILE);
  const require = createRequire(import.meta.url);
  for (const name of platformPackages()) {
    try {
      return require.resolve(name);
    } catch {
      // not installed for this platform: try the next
    }
  }
  return undefined;
}

let loaded: XattrBinding | AppError | undefined;

/**
 * The binding, loaded on first use. A platform without it fails readably rather than packing volumes without
 * their attributes (file capabilities and ACLs decide who may do what).
 */
export function xattrBinding(): XattrBinding {
  loaded ??= (() => {
    const path = xattrAddonPath();
    if (path === undefined || !existsSync(path))
      return new AppError(
        'failed_precondition',
        `extended attributes cannot be read or set here: ${isBundled() ? `${XATTR_ADDON_FILE} is not beside the binary` : `no @napi-rs/xattr binding for ${process.platform}-${process.arch}`}`,
        { hint: 'install the release for this platform, or run npm ci in the source tree' },
      );
    try {
      const module: { exports: unknown } = { exports: {} };
      process.dlopen(module, path, constants.dlopen.RTLD_NOW);
      return module.exports as XattrBinding;
    } catch (error) {
      return new AppError('failed_precondition', `cannot load ${path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  })();
  if (loaded instanceof AppError) throw loaded;
  return loaded;
}
