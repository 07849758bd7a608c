// Keeping a volume's content aside while `overwrite` replaces it, and putting it back on rollback. Volumes cannot be
// renamed and containers may still reference the name, so the volume object stays and only its content moves.
import { chmod, chown, lstat, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { VolumeSummary } from '../core/docker-resources.js';
import { AppError } from '../core/errors.js';
import type { DockerEngine } from '../core/ports.js';
import { volumeContentOf } from '../core/volume-options.js';
import type { VolumeAccess } from './volume-access.js';

/** Marks a volume holding another's content; its value is that volume's name. */
export const ASIDE_LABEL = 'io.dockation.aside-of';
/**
 * The set-aside volume's creation time. Through the Engine, set-aside makes that volume anew once its content is
 * copied, so a different creation time says the set-aside finished.
 */
const ASIDE_CREATED_LABEL = 'io.dockation.aside-of.created-at';
/** Driver, options and labels of the set-aside volume (JSON), so that it can be made anew if it is missing. */
const ASIDE_SPEC_LABEL = 'io.dockation.aside-of.spec';
/** How the content moved ("mountpoint" or "engine"): a restore must take the same way to read the state right. */
const ASIDE_VIA_LABEL = 'io.dockation.aside-of.via';
/**
 * Files beside the aside volume's `_data` (in its folder under the Docker root, which removing the volume deletes).
 * COMPLETE: every entry moved aside, so what the volume holds afterwards is new content. RESTORING: a restore has
 * emptied the volume it restores, so a repeat must not empty it again (it holds restored entries by then).
 */
export const COMPLETE_MARK = 'dockation-aside-complete';
export const RESTORING_MARK = 'dockation-restoring';

interface VolumeSpecLabel {
  driver: string;
  options: Record<string, string>;
  labels: Record<string, string>;
}

const RUNNING_STATES: ReadonlySet<string> = new Set(['running', 'restarting', 'paused']);

function isNotFound(error: unknown): boolean {
  return AppError.from(error).code === 'not_found';
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

type FolderAttributes = Awaited<ReturnType<typeof stat>>;

/** Gives a folder the owner, mode and times read before (the `_data` folders themselves, which no rename moves). */
async function applyFolderAttributes(
  to: string,
  info: FolderAttributes,
  options: { times?: boolean } = {},
): Promise<void> {
  await chown(to, Number(info.uid), Number(info.gid));
  await chmod(to, Number(info.mode) & 0o7777);
  if (options.times ?? true) await utimes(to, info.atime, info.mtime);
}

/**
 * Moves every entry of folder `from` into folder `to` by rename (the same filesystem: both are under the Docker
 * root). An entry already in `to` is never replaced: the content of two volumes would mix, so that is a conflict.
 * Returns how many entries moved.
 */
async function moveEntries(from: string, to: string, what: string): Promise<number> {
  let moved = 0;
  for (const entry of await readdir(from)) {
    const destination = join(to, entry);
    if (await exists(destination))
      throw new AppError(
        'conflict',
        `cannot move "${entry}" ${what}: an entry of that name is already there; the two volumes were changed ` +
          'since the move began',
      );
    try {
      await rename(join(from, entry), destination);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EXDEV')
        throw new AppError(
          'failed_precondition',
          `cannot move "${entry}" ${what}: the two volume folders are on different filesystems`,
          { cause: error },
        );
      throw error;
    }
    moved += 1;
  }
  return moved;
}

export class VolumeAside {
  constructor(
    private readonly engine: DockerEngine,
    private readonly volumes: VolumeAccess,
  ) {}

  /** See the `volume.set_aside` command. */
  async setAside(name: string, asideName: string): Promise<{ moved: boolean }> {
    distinct(name, asideName);
    const volume = await this.inspectOrNull(name);
    if (!volume) {
      // Only a set-aside through the Engine removes the volume, and it makes it anew right after: finish that.
      const aside = await this.asideOf(name, asideName);
      if (!aside) throw new AppError('not_found', `volume "${name}" not found on ${this.engine.endpoint}`);
      await this.makeAnew(name, specOf(aside, name), aside);
      return { moved: true };
    }
    const content = this.movableContent(volume);
    if (content === 'nothing') {
      const { created } = await this.ensureAside(volume, asideName, 'mountpoint');
      return { moved: created };
    }
    const route = await this.volumes.route(name);
    const existing = await this.asideOf(name, asideName);
    if (route.via === 'mountpoint') {
      // Done once the mark is there: what the volume holds now is new and stays.
      if (
        existing &&
        (await exists(join(dirname(await this.folderOf(existing, 'mountpoint')), COMPLETE_MARK)))
      )
        return { moved: false };
      await this.refuseRunningUsers(name, 'set aside');
      const { created, aside } = await this.ensureAside(volume, asideName, 'mountpoint');
      const folder = await this.folderOf(aside, 'mountpoint');
      // The aside folder keeps the folder's own owner and mode (moves leave them be) and, from the first run, its
      // times (moves change them).
      const original = await stat(route.mountpoint);
      const first = (await readdir(folder)).length === 0;
      await applyFolderAttributes(folder, original, { times: false });
      const moved = await moveEntries(route.mountpoint, folder, `from volume "${name}" into "${asideName}"`);
      if (first) await applyFolderAttributes(folder, original);
      await writeFile(join(dirname(folder), COMPLETE_MARK), `${name}\n`);
      return { moved: created || moved > 0 };
    }
    // Through the Engine the content is copied by archive, then the volume is removed and made anew: nothing else
    // can empty it, and that needs it unused. The copy is whole before the removal, so a repeat can start over.
    if (existing) {
      await this.folderOf(existing, 'engine');
      if (existing.labels[ASIDE_CREATED_LABEL] !== (volume.createdAt ?? '')) return { moved: false };
    }
    await this.refuseAnyUsers(name, 'set aside');
    const { aside } = await this.ensureAside(volume, asideName, 'engine');
    await this.volumes.write(asideName, await this.volumes.read(name));
    await this.engine.removeVolume(name);
    await this.makeAnew(name, specOf(aside, name), aside);
    return { moved: true };
  }

  /** See the `volume.restore_aside` command. */
  async restore(name: string, asideName: string): Promise<{ restored: boolean }> {
    distinct(name, asideName);
    const aside = await this.inspectOrNull(asideName);
    if (!aside) return { restored: false };
    if (aside.labels[ASIDE_LABEL] !== name)
      throw new AppError(
        'failed_precondition',
        `volume "${asideName}" does not hold content set aside from "${name}" (its ${ASIDE_LABEL} label says ` +
          `"${aside.labels[ASIDE_LABEL] ?? ''}"); it is left alone`,
      );
    let volume = await this.inspectOrNull(name);
    const created = volume === null;
    volume ??= await this.engine.createVolume({ name, ...specOf(aside, name) });
    if (this.movableContent(volume) === 'nothing') {
      await this.engine.removeVolume(asideName);
      return { restored: true };
    }
    const via = aside.labels[ASIDE_VIA_LABEL] === 'engine' ? 'engine' : 'mountpoint';
    const folder = await this.folderOf(aside, via);
    if (via === 'mountpoint') {
      const route = await this.volumes.route(name);
      if (route.via !== 'mountpoint')
        throw new AppError(
          'failed_precondition',
          `cannot reach the folder of volume "${name}" from this worker`,
        );
      await this.refuseRunningUsers(name, 'restore');
      // Before the set-aside finished, the volume holds the entries not moved yet: they stay, the rest come back.
      if (await exists(join(dirname(folder), COMPLETE_MARK))) {
        const restoring = join(dirname(folder), RESTORING_MARK);
        if (!(await exists(restoring))) {
          for (const entry of await readdir(route.mountpoint))
            await rm(join(route.mountpoint, entry), { recursive: true, force: true });
          await writeFile(restoring, `${name}\n`);
        }
      }
      const original = await stat(folder);
      await moveEntries(folder, route.mountpoint, `from volume "${asideName}" back into "${name}"`);
      await applyFolderAttributes(route.mountpoint, original);
    } else if (volume.createdAt === aside.labels[ASIDE_CREATED_LABEL] && !created) {
      // The set-aside through the Engine did not get as far as removing the volume: it still holds its content.
    } else {
      // The aside volume stays whole until the end, so a repeat after a crash starts over from an empty volume.
      await this.refuseAnyUsers(name, 'restore');
      if (!created) {
        await this.engine.removeVolume(name);
        await this.makeAnew(name, specOf(aside, name, volume), aside);
      }
      await this.volumes.write(name, await this.volumes.read(asideName));
    }
    await this.engine.removeVolume(asideName);
    return { restored: true };
  }

  /** The aside volume's folder when its content moved by rename; checks the Engine way is still the one here. */
  private async folderOf(aside: VolumeSummary, via: 'mountpoint' | 'engine'): Promise<string> {
    const route = await this.volumes.route(aside.name);
    const recorded = aside.labels[ASIDE_VIA_LABEL] === 'engine' ? 'engine' : 'mountpoint';
    if (route.via !== recorded || via !== recorded)
      throw new AppError(
        'failed_precondition',
        `the content of volume "${aside.labels[ASIDE_LABEL] ?? ''}" was set aside into "${aside.name}" ` +
          `${recorded === 'engine' ? 'through the Docker engine' : 'in its folder'}, which this worker ` +
          `${recorded === 'engine' ? 'no longer uses (--volume-access)' : 'cannot reach now'}; it must finish the same way`,
        { hint: 'start the worker with the --volume-access it had when the volume was set aside' },
      );
    return route.via === 'mountpoint' ? route.mountpoint : '';
  }

  /**
   * Creates the volume `name` again. Its new creation time must differ from the one the aside volume recorded, since
   * that is how a repeat tells the set-aside finished: the Engine counts in seconds, so an empty volume made within
   * the same second is made once more.
   */
  private async makeAnew(
    name: string,
    spec: { driver: string; options: Record<string, string>; labels: Record<string, string> },
    aside: VolumeSummary,
  ): Promise<void> {
    for (;;) {
      const made = await this.engine.createVolume({ name, ...spec });
      if (made.createdAt !== aside.labels[ASIDE_CREATED_LABEL]) return;
      await new Promise((resolve) => setTimeout(resolve, 250));
      await this.engine.removeVolume(name);
    }
  }

  private async inspectOrNull(name: string): Promise<VolumeSummary | null> {
    try {
      return await this.engine.inspectVolume(name);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** The aside volume of `name`, if `asideName` is one; a volume of that name holding something else is a conflict. */
  private async asideOf(name: string, asideName: string): Promise<VolumeSummary | null> {
    const aside = await this.inspectOrNull(asideName);
    if (aside && aside.labels[ASIDE_LABEL] !== name)
      throw new AppError(
        'conflict',
        `volume "${asideName}" already exists on ${this.engine.endpoint} and does not hold content set aside from "${name}"`,
      );
    return aside;
  }

  private async ensureAside(
    volume: VolumeSummary,
    asideName: string,
    via: 'mountpoint' | 'engine',
  ): Promise<{ aside: VolumeSummary; created: boolean }> {
    const existing = await this.asideOf(volume.name, asideName);
    if (existing) return { aside: existing, created: false };
    const spec: VolumeSpecLabel = { driver: volume.driver, options: volume.options, labels: volume.labels };
    const aside = await this.engine.createVolume({
      name: asideName,
      driver: 'local',
      labels: {
        [ASIDE_LABEL]: volume.name,
        [ASIDE_CREATED_LABEL]: volume.createdAt ?? '',
        [ASIDE_SPEC_LABEL]: JSON.stringify(spec),
        [ASIDE_VIA_LABEL]: via,
      },
    });
    return { aside, created: true };
  }

  /**
   * `move` for content under the Docker root; `nothing` for tmpfs (gone once unmounted). Content in a host folder or
   * on a share or device is not ours to move: moving it would empty the user's folder or a share others use.
   */
  private movableContent(volume: VolumeSummary): 'move' | 'nothing' {
    if (volume.driver !== 'local')
      throw new AppError(
        'failed_precondition',
        `volume "${volume.name}" uses the "${volume.driver}" driver; only local volumes can be set aside`,
      );
    const content = volumeContentOf(volume.options);
    switch (content.kind) {
      case 'docker_root':
        return 'move';
      case 'tmpfs':
        return 'nothing';
      case 'host_path':
      case 'network_share':
      case 'device': {
        const where =
          content.kind === 'host_path'
            ? `the host folder ${content.device ?? ''}`
            : content.kind === 'network_share'
              ? `the network share ${content.device ?? ''}`
              : `the device ${content.device ?? ''}`;
        throw new AppError(
          'failed_precondition',
          `volume "${volume.name}" keeps its content in ${where}, which cannot be set aside or restored; ` +
            'move that content yourself, or choose another conflict policy for this volume',
        );
      }
    }
  }

  private async users(name: string): Promise<{ name: string; state: string }[]> {
    const containers = await this.engine.listContainers({ all: true });
    return containers
      .filter((c) => c.volumeNames.includes(name))
      .map((c) => ({ name: c.name, state: c.state }));
  }

  private async refuseRunningUsers(name: string, what: string): Promise<void> {
    const running = (await this.users(name)).filter((c) => RUNNING_STATES.has(c.state));
    if (running.length > 0)
      throw new AppError(
        'failed_precondition',
        `volume "${name}" cannot be ${what === 'restore' ? 'restored' : 'set aside'} while container ` +
          `${running.map((c) => `"${c.name}"`).join(', ')} runs with it; stop it first`,
      );
  }

  private async refuseAnyUsers(name: string, what: string): Promise<void> {
    const users = await this.users(name);
    if (users.length > 0)
      throw new AppError(
        'failed_precondition',
        `volume "${name}" cannot be ${what === 'restore' ? 'restored' : 'set aside'} through the Docker engine while ` +
          `container ${users.map((c) => `"${c.name}"`).join(', ')} uses it: without access to its folder the worker ` +
          'must remove the volume and make it anew to empty it',
        {
          hint: 'run the worker on the Docker host as root with --volume-access auto, or remove those containers',
        },
      );
  }
}

function distinct(name: string, asideName: string): void {
  if (name === '' || asideName === '' || name === asideName)
    throw new AppError(
      'invalid_argument',
      `a volume cannot be set aside into "${asideName}": name another volume`,
    );
}

/** How to make `name` anew: as it is now when it exists, else as the aside volume recorded it. */
function specOf(
  aside: VolumeSummary,
  name: string,
  current?: VolumeSummary,
): { driver: string; options: Record<string, string>; labels: Record<string, string> } {
  if (current) return { driver: current.driver, options: current.options, labels: current.labels };
  const raw = aside.labels[ASIDE_SPEC_LABEL];
  if (raw === undefined)
    throw new AppError('failed_precondition', `volume "${aside.name}" does not say how "${name}" was made`);
  const spec = JSON.parse(raw) as VolumeSpecLabel;
  return { driver: spec.driver, options: spec.options, labels: spec.labels };
}
