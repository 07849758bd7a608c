// Preflight: checks a migration plan against both workers before anything moves, and reports what it found as
// values (errors block, warnings are shown, info explains); it also settles name conflicts per the request.
import type { AcknowledgeableFinding } from '../contract/codes.js';
import { shellIgnoringStopSignal, stopSettings } from './container-stop.js';
import type { ContainerDetails, ImageDetails, PortBinding } from './docker-resources.js';
import type {
  Finding,
  FindingSeverity,
  MigrationPlan,
  MigrationRequest,
  PlannedResource,
  ResourceType,
} from './migration.js';
import { DEFAULT_DOWNTIME_BUDGET_MS, VOLUME_COPY_LABEL, VOLUME_SOURCE_LABEL } from './migration.js';
import { asRecord, normaliseImageRef } from './migration-plan.js';
import { volumeContentOf } from './volume-options.js';
import type { Inventory } from './workers.js';

export interface PreflightInput {
  source: {
    online: boolean;
    name: string;
    /** Inspect details of the planned containers, by id. */
    containers: Record<string, ContainerDetails>;
    /** For the drivers and driver options of planned volumes (and of those no planned container mounts). */
    inventory?: Inventory;
    /**
     * Files changed in each planned container's writable layer (the container.changes command), by container id:
     * how many, and the first few paths. Absent when not asked.
     */
    changes?: Record<string, { count: number; paths: string[] }>;
  };
  target: {
    online: boolean;
    name: string;
    inventory: Inventory;
    /** Free bytes under the target's Docker root; null when the worker has not said. */
    freeBytes: number | null;
    /** Engine architecture as Docker reports it ("x86_64", "aarch64") or as images do ("amd64", "arm64"). */
    architecture: string | null;
    os?: string | null;
  };
  /** Inspect details of the planned images on the source, by id. */
  images?: Record<string, ImageDetails>;
}

export interface PreflightReport {
  /** The plan with its findings, conflict actions and target names settled, and totalBytes of what moves. */
  plan: MigrationPlan;
  findings: Finding[];
  /** True when any finding is an error: the migration must not start. */
  blocked: boolean;
}

/** Free space asked for beyond the bytes to move: image layers unpack and volumes grow while copied. */
export const DISK_HEADROOM = 1.1;

/** Suffix a renamed resource gets on the target (then "-migrated-2", "-migrated-3"…). */
export const RENAME_SUFFIX = '-migrated';

const WILDCARD_HOSTS: ReadonlySet<string> = new Set(['', '0.0.0.0', '::']);

const SEVERITY_ORDER: Record<FindingSeverity, number> = { error: 0, warning: 1, info: 2 };

/**
 * Runs every check of a plan against the two workers. Pure: the same inputs give the same report, so it can run
 * again just before the migration starts. Findings come errors first, then warnings, then info.
 */
export function preflight(
  plan: MigrationPlan,
  request: MigrationRequest,
  input: PreflightInput,
): PreflightReport {
  const findings: Finding[] = [];
  // Start from the source names each time, so that a second preflight does not rename twice.
  const resources: PlannedResource[] = plan.resources.map(({ copyContent: _settled, ...r }) => ({
    ...r,
    targetName: r.name,
    action: 'create',
  }));

  checkWorkers(request, input, findings);
  settleConflicts(resources, request, input, findings);
  checkSomethingMoves(resources, input, findings);
  checkPorts(resources, input, findings);
  checkVolumeContent(resources, request, input, findings);
  const moving = resources.filter((r) => moves(r) && r.copyContent !== false);
  const totalBytes = moving.reduce((sum, r) => sum + r.estimatedBytes, 0);
  checkVolumeSizes(moving, findings);
  // A copy brought up to date in place needs room only for what it grows by, which preflight cannot know.
  checkDiskSpace(
    moving.filter((r) => r.action !== 'update'),
    input,
    findings,
  );
  checkPlatform(resources, input, findings);
  checkBindMounts(resources, request, input, findings);
  checkVolumeDrivers(resources, input, findings);
  checkRunningSource(resources, request, input, findings);
  checkStopSignals(resources, request, input, findings);
  checkWritableLayers(resources, request, input, findings);

  const sorted = findings
    .map((finding, index) => ({ finding, index }))
    .sort(
      (a, b) => SEVERITY_ORDER[a.finding.severity] - SEVERITY_ORDER[b.finding.severity] || a.index - b.index,
    )
    .map(({ finding }) => finding);
  return {
    plan: { resources, findings: sorted, totalBytes },
    findings: sorted,
    blocked: sorted.some((f) => f.severity === 'error'),
  };
}

function moves(resource: PlannedResource): boolean {
  return resource.action !== 'skip';
}

function about(resource: PlannedResource): Finding['resource'] {
  return { type: resource.type, name: resource.name };
}

/**
 * A finding that blocks until the user acknowledges its code in the request, and is a warning from then on. The
 * message of the blocking form says how to go on.
 */
function unlessAcknowledged(
  request: MigrationRequest,
  code: AcknowledgeableFinding,
  message: string,
  resource?: Finding['resource'],
): Finding {
  const acknowledged = request.acknowledge?.includes(code) ?? false;
  return {
    severity: acknowledged ? 'warning' : 'error',
    code,
    message: acknowledged ? message : `${message}; acknowledge ${code} to go on`,
    ...(resource ? { resource } : {}),
  };
}

function checkWorkers(request: MigrationRequest, input: PreflightInput, findings: Finding[]): void {
  for (const [role, worker] of [
    ['source', input.source],
    ['target', input.target],
  ] as const) {
    if (!worker.online) {
      findings.push({
        severity: 'error',
        code: 'worker_offline',
        message: `${role} worker "${worker.name}" is offline; start its docker-migrate worker or wait until it reconnects`,
      });
    }
  }
  if (request.sourceWorkerId === request.targetWorkerId) {
    findings.push({
      severity: 'error',
      code: 'same_worker',
      message: `source and target are the same worker ("${input.source.name}"); choose another target`,
    });
  }
}

// ---- name conflicts ----

/** Names taken on the target, per type; image references in the Engine's listed form. */
function targetNames(inventory: Inventory): Record<ResourceType, Set<string>> {
  return {
    container: new Set(inventory.containers.map((c) => c.name)),
    image: new Set(inventory.images.flatMap((i) => i.tags.map(normaliseImageRef))),
    volume: new Set(inventory.volumes.map((v) => v.name)),
    network: new Set(inventory.networks.map((n) => n.name)),
  };
}

function nameKey(type: ResourceType, name: string): string {
  return type === 'image' ? normaliseImageRef(name) : name;
}

/** Whether a reference names a tag ("repo:tag", "repo"), rather than an id or a digest. */
function isTagRef(ref: string): boolean {
  return !ref.startsWith('sha256:') && !ref.includes('@');
}

function settleConflicts(
  resources: PlannedResource[],
  request: MigrationRequest,
  input: PreflightInput,
  findings: Finding[],
): void {
  const onTarget = targetNames(input.target.inventory);
  const targetImageIds = new Set(input.target.inventory.images.map((i) => i.id));
  const taken: Record<ResourceType, Set<string>> = {
    container: new Set(onTarget.container),
    image: new Set(onTarget.image),
    volume: new Set(onTarget.volume),
    network: new Set(onTarget.network),
  };
  for (const r of resources) taken[r.type].add(nameKey(r.type, r.name));

  for (const r of resources) {
    let conflict: string | undefined;
    if (r.type === 'image') {
      const tags = imageTags(r, input);
      const clashing = tags.filter((tag) =>
        input.target.inventory.images.some(
          (i) => i.id !== r.sourceId && i.tags.map(normaliseImageRef).includes(tag),
        ),
      );
      // The target ends with every tag asked for, whatever it holds already: a tag is cheap.
      r.targetTags = tags;
      if (targetImageIds.has(r.sourceId)) {
        r.action = 'skip';
        findings.push({
          severity: 'info',
          code: 'already_present',
          message: `image ${r.name} is already on "${input.target.name}" with the same id; nothing to copy${tags.length > 0 ? ' (missing tags are added)' : ''}`,
          resource: about(r),
        });
      }
      if (clashing.length > 0)
        conflict = `tag ${clashing.join(', ')} on "${input.target.name}" points at another image`;
    } else if (settleLeftover(r, request, input, findings)) {
      continue;
    } else if (onTarget[r.type].has(r.targetName)) {
      conflict = `a ${r.type} named "${r.targetName}" already exists on "${input.target.name}"`;
      if (r.type === 'volume' && request.strategy === 'incremental') {
        const copy = ownCopy(r.name, input);
        const from = `${request.sourceWorkerId}/${r.sourceId}`;
        if (copy.ours && copy.source === from && copy.users.length === 0) {
          r.action = 'update';
          findings.push({
            severity: 'info',
            code: 'incremental_update',
            message: `volume ${r.name} on "${input.target.name}" is a copy migration ${copy.ours} made: it is brought up to date in place, and only what differs travels (what it grows by is not in the disk-space check)`,
            resource: about(r),
          });
          continue;
        }
        conflict +=
          copy.ours === undefined
            ? ' (not a copy a migration made: an incremental sync updates only those)'
            : copy.source !== from
              ? ` (a copy migration ${copy.ours} made of another volume, ${copy.source ?? 'unknown'}: an incremental sync updates only a copy of this one)`
              : ` (a copy migration ${copy.ours} made, but used by container ${copy.users.join(', ')} there: an incremental sync does not change a volume under a container)`;
      }
    }
    if (conflict === undefined) continue;

    switch (request.conflictPolicy) {
      case 'fail':
        findings.push({
          severity: 'error',
          code: 'name_conflict',
          message: `${conflict}; remove it there or choose the skip, rename or overwrite conflict policy`,
          resource: about(r),
        });
        break;
      case 'skip':
        r.action = 'skip';
        if (r.type === 'image')
          r.targetTags = (r.targetTags ?? []).filter((tag) => !clashingTag(tag, r, input));
        findings.push({
          severity: 'warning',
          code: 'name_conflict',
          message: `${conflict}; skipped: the target's ${r.type} stays${r.type === 'container' ? '' : ' and migrated containers use it'}`,
          resource: about(r),
        });
        break;
      case 'rename': {
        if (r.type === 'image') {
          // Every clashing tag gets a free name, so the target's tags never move; the first names the image.
          r.targetTags = (r.targetTags ?? []).map((tag) => {
            if (!clashingTag(tag, r, input)) return tag;
            const renamed = freeName('image', tag, taken.image);
            taken.image.add(nameKey('image', renamed));
            return renamed;
          });
          const index = imageTags(r, input).indexOf(normaliseImageRef(r.name));
          const own = index >= 0 ? r.targetTags[index] : undefined;
          r.targetName = own ?? freeName(r.type, r.name, taken[r.type]);
        } else r.targetName = freeName(r.type, r.name, taken[r.type]);
        taken[r.type].add(nameKey(r.type, r.targetName));
        findings.push({
          severity: 'info',
          code: 'name_conflict',
          message: `${conflict}; it is created there as "${r.targetName}"`,
          resource: about(r),
        });
        break;
      }
      case 'overwrite':
        r.action = 'overwrite';
        findings.push({
          severity: 'warning',
          code: 'name_conflict',
          message: `${conflict}; it will be replaced (removed on the target, then created from the source)`,
          resource: about(r),
        });
        break;
    }
  }
}

/**
 * A move back: the resource goes back under the name it had on this worker, and what the migration it reverses left
 * here under that name (the very object, by id) is reused rather than conflicting — a stopped container replaced
 * (kept aside until the end), a volume brought up to date in place (incremental) or overwritten with its old
 * content kept aside until the end, a network kept. True when that settled the resource; false when the name is
 * free, or taken by something else (then the conflict policy decides, as for any name).
 */
function settleLeftover(
  r: PlannedResource,
  request: MigrationRequest,
  input: PreflightInput,
  findings: Finding[],
): boolean {
  const { reverse } = request;
  if (!reverse) return false;
  const leftover = reverse.leftovers.find((left) => left.type === r.type && left.movedAs === r.name);
  if (!leftover) return false;
  r.targetName = leftover.name;
  const { inventory } = input.target;
  const here =
    r.type === 'container'
      ? inventory.containers.find((c) => c.name === leftover.name)
      : r.type === 'network'
        ? inventory.networks.find((n) => n.name === leftover.name)
        : inventory.volumes.find((v) => v.name === leftover.name);
  if (here === undefined) return false;
  const hereId = 'id' in here ? here.id : here.name;
  if (hereId !== leftover.id) return false;
  const left = `${r.type} ${leftover.name} on "${input.target.name}" is what migration ${reverse.of} left there`;
  if (r.type === 'network') {
    r.action = 'skip';
    findings.push({
      severity: 'info',
      code: 'leftover_reused',
      message: `${left}: it is kept, and the containers moving back join it`,
      resource: about(r),
    });
    return true;
  }
  if (r.type === 'container') {
    r.action = 'overwrite';
    findings.push({
      severity: 'info',
      code: 'leftover_reused',
      message: `${left}: it is replaced by the one moving back (kept aside until the migration completes)`,
      resource: about(r),
    });
    return true;
  }
  const running = inventory.containers.filter(
    (c) => c.state === 'running' && c.volumeNames.includes(leftover.name),
  );
  if (running.length > 0) {
    findings.push({
      severity: 'error',
      code: 'leftover_in_use',
      message: `${left}, but container ${running.map((c) => c.name).join(', ')} runs there using it: stop ${running.length === 1 ? 'it' : 'them'} first, the volume is not changed under a running container`,
      resource: about(r),
    });
    return true;
  }
  const incremental = request.strategy === 'incremental';
  r.action = incremental ? 'update' : 'overwrite';
  findings.push({
    severity: 'info',
    code: 'leftover_reused',
    message: incremental
      ? `${left}: it is brought up to date in place, and only what changed since travels`
      : `${left}: its content is replaced by the one moving back (the old content kept aside until the migration completes)`,
    resource: about(r),
  });
  return true;
}

/**
 * Whether the target's volume of that name is a copy a migration made (its label names that migration), of which
 * worker's volume (`<worker id>/<volume>`), and the target's containers that use it.
 */
function ownCopy(
  name: string,
  input: PreflightInput,
): { ours: string | undefined; source: string | undefined; users: string[] } {
  const { inventory } = input.target;
  const volume = inventory.volumes.find((v) => v.name === name);
  return {
    ours: volume?.labels[VOLUME_COPY_LABEL],
    source: volume?.labels[VOLUME_SOURCE_LABEL],
    users: inventory.containers.filter((c) => c.volumeNames.includes(name)).map((c) => c.name),
  };
}

/**
 * A plan in which nothing would change on the target (every resource skipped: already there, or kept under the
 * `skip` policy) is refused before anything stops: it would "complete" having moved nothing.
 */
function checkSomethingMoves(resources: PlannedResource[], input: PreflightInput, findings: Finding[]): void {
  if (resources.length === 0) return;
  const changes = (r: PlannedResource): boolean => {
    if (r.action !== 'skip') return true;
    if (r.type !== 'image') return false;
    // An image already there still changes when it gets a tag it lacks.
    const there = input.target.inventory.images.find((i) => i.id === r.sourceId);
    const tags = new Set((there?.tags ?? []).map(normaliseImageRef));
    return there !== undefined && (r.targetTags ?? []).some((tag) => !tags.has(tag));
  };
  if (resources.some(changes)) return;
  const names = resources.map((r) => `${r.type} ${r.name}`);
  findings.push({
    severity: 'error',
    code: 'nothing_to_move',
    message:
      `nothing would move: ${names.length <= 4 ? names.join(', ') : `${names.slice(0, 4).join(', ')} and ${String(names.length - 4)} more`} ` +
      `${names.length === 1 ? 'is' : 'are'} already on "${input.target.name}" or skipped there; nothing is stopped or changed on either side`,
  });
}

/** Whether a tag names another image than this one on the target. */
function clashingTag(tag: string, r: PlannedResource, input: PreflightInput): boolean {
  return input.target.inventory.images.some(
    (i) => i.id !== r.sourceId && i.tags.map(normaliseImageRef).includes(tag),
  );
}

/** The source image's tags in listed form: from its details, or the plan's name when it is a tag. */
function imageTags(r: PlannedResource, input: PreflightInput): string[] {
  const tags =
    input.images?.[r.sourceId]?.tags ?? input.source.inventory?.images.find((i) => i.id === r.sourceId)?.tags;
  const all = [...(tags ?? []), ...(isTagRef(r.name) ? [r.name] : [])];
  return [...new Set(all.map(normaliseImageRef))];
}

/** "<name>-migrated", else "<name>-migrated-2", "-3"… : the first one neither the target nor the plan uses. */
function freeName(type: ResourceType, name: string, taken: Set<string>): string {
  for (let n = 1; ; n += 1) {
    const candidate = n === 1 ? `${name}${RENAME_SUFFIX}` : `${name}${RENAME_SUFFIX}-${n}`;
    if (!taken.has(nameKey(type, candidate))) return candidate;
  }
}

// ---- ports ----

interface HostPort {
  hostIp: string;
  /** Inclusive range; one port when from = to. */
  from: number;
  to: number;
  protocol: string;
  /** As the user would write it, e.g. "8080/tcp". */
  label: string;
}

/**
 * Host ports a planned container will publish on the target. HostConfig.PortBindings is preferred: it is what the
 * container asks for even while stopped, and its empty HostPort (an ephemeral port) claims nothing, whereas the
 * summary shows the ephemeral port the source Engine happened to pick. The summary serves when raw lacks it.
 */
function publishedBySource(details: ContainerDetails): HostPort[] {
  const bindings = asRecord(asRecord(details.raw.HostConfig)?.PortBindings);
  if (bindings === undefined) return details.ports.flatMap(hostPortOf);
  const ports: HostPort[] = [];
  for (const [key, list] of Object.entries(bindings)) {
    const protocol = key.split('/')[1] ?? 'tcp';
    for (const binding of Array.isArray(list) ? list : []) {
      const hostPort = asRecord(binding)?.HostPort;
      const hostIp = asRecord(binding)?.HostIp;
      const match = typeof hostPort === 'string' ? /^(\d+)(?:-(\d+))?$/.exec(hostPort) : null;
      if (!match?.[1]) continue;
      const from = Number(match[1]);
      const to = match[2] ? Number(match[2]) : from;
      if (from === 0) continue;
      ports.push({
        hostIp: typeof hostIp === 'string' ? hostIp : '',
        from,
        to,
        protocol,
        label: `${match[0]}/${protocol}`,
      });
    }
  }
  return ports;
}

function hostPortOf(port: PortBinding): HostPort[] {
  if (!port.publicPort) return [];
  return [
    {
      hostIp: port.hostIp ?? '',
      from: port.publicPort,
      to: port.publicPort,
      protocol: port.protocol,
      label: `${port.publicPort}/${port.protocol}`,
    },
  ];
}

function overlaps(a: HostPort, b: HostPort): boolean {
  return (
    a.protocol === b.protocol &&
    a.from <= b.to &&
    b.from <= a.to &&
    (a.hostIp === b.hostIp || WILDCARD_HOSTS.has(a.hostIp) || WILDCARD_HOSTS.has(b.hostIp))
  );
}

function checkPorts(resources: PlannedResource[], input: PreflightInput, findings: Finding[]): void {
  const overwritten = new Set(
    resources.filter((r) => r.type === 'container' && r.action === 'overwrite').map((r) => r.targetName),
  );
  const targetPorts = input.target.inventory.containers
    .filter((c) => !overwritten.has(c.name))
    .flatMap((c) => c.ports.flatMap(hostPortOf).map((port) => ({ container: c.name, port })));

  for (const r of resources) {
    if (r.type !== 'container' || !moves(r)) continue;
    const details = input.source.containers[r.sourceId];
    if (!details) continue;
    const reported = new Set<string>();
    for (const port of publishedBySource(details)) {
      for (const used of targetPorts) {
        const key = `${port.label}|${used.container}`;
        if (!overlaps(port, used.port) || reported.has(key)) continue;
        reported.add(key);
        findings.push({
          severity: 'error',
          code: 'port_in_use',
          message:
            `container "${r.name}" publishes host port ${port.label}, which container "${used.container}" ` +
            `already publishes on "${input.target.name}"; free the port there or use the overwrite policy for it`,
          resource: about(r),
        });
      }
    }
  }
}

// ---- disk space ----

/**
 * Bytes a resource takes on the target's disk: a measured volume's allocated bytes (a sparse file's holes take
 * none, a hard-linked file is there once), else its estimate, which is what the Engine or the image says.
 */
export function diskBytesOf(resource: PlannedResource): number {
  if (resource.type === 'volume' && resource.measured)
    return resource.measured.allocatedBytes ?? resource.measured.apparentBytes ?? 0;
  return resource.estimatedBytes;
}

/** A volume whose size could not be measured: its bytes are in no total and no disk-space check. */
function checkVolumeSizes(moving: PlannedResource[], findings: Finding[]): void {
  for (const r of moving) {
    if (r.type !== 'volume' || !r.measured || r.measured.apparentBytes !== null) continue;
    findings.push({
      severity: 'warning',
      code: 'volume_size_unknown',
      message:
        `the size of volume ${r.name} is unknown (${r.measured.reason ?? 'it could not be measured'}); it is ` +
        'left out of the bytes to move and of the disk-space check',
      resource: about(r),
    });
  }
}

function checkDiskSpace(moving: PlannedResource[], input: PreflightInput, findings: Finding[]): void {
  const bytes = moving.reduce((sum, r) => sum + diskBytesOf(r), 0);
  const needed = Math.round(bytes * DISK_HEADROOM);
  const free = input.target.freeBytes;
  if (free === null) {
    findings.push({
      severity: 'warning',
      code: 'disk_space',
      message: `cannot tell the free space on "${input.target.name}"; about ${formatBytes(needed)} will be needed`,
    });
  } else if (free < needed) {
    findings.push({
      severity: 'error',
      code: 'disk_space',
      message:
        `"${input.target.name}" has ${formatBytes(free)} free but the migration needs about ${formatBytes(needed)} ` +
        `(${formatBytes(bytes)} on disk plus 10%); free some space there`,
    });
  }
}

/** Bytes in binary units with one decimal, e.g. "1.5 GiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

// ---- architecture and OS ----

const ARCH_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  armv8: 'arm64',
  armv7l: 'arm',
  armhf: 'arm',
  i386: '386',
  i686: '386',
};

/** One name per architecture, whether it comes from an image ("amd64") or an Engine/kernel ("x86_64"). */
export function normaliseArchitecture(architecture: string): string {
  const lower = architecture.toLowerCase();
  return ARCH_ALIASES[lower] ?? lower;
}

function checkPlatform(resources: PlannedResource[], input: PreflightInput, findings: Finding[]): void {
  const { architecture, os } = input.target;
  for (const r of resources) {
    if (r.type !== 'image' || !moves(r)) continue;
    const image = input.images?.[r.sourceId];
    if (!image) continue;
    if (
      architecture &&
      image.architecture &&
      normaliseArchitecture(image.architecture) !== normaliseArchitecture(architecture)
    ) {
      findings.push({
        severity: 'error',
        code: 'architecture_mismatch',
        message: `image ${r.name} is built for ${image.architecture} but "${input.target.name}" runs ${architecture}; its containers would not start there`,
        resource: about(r),
      });
    }
    if (os && image.os && image.os.toLowerCase() !== os.toLowerCase()) {
      findings.push({
        severity: 'error',
        code: 'os_mismatch',
        message: `image ${r.name} is built for ${image.os} but "${input.target.name}" runs ${os}`,
        resource: about(r),
      });
    }
  }
}

// ---- bind mounts ----

function trimSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

function checkBindMounts(
  resources: PlannedResource[],
  request: MigrationRequest,
  input: PreflightInput,
  findings: Finding[],
): void {
  const rules = new Map(Object.entries(request.bindMounts).map(([path, rule]) => [trimSlash(path), rule]));
  for (const r of resources) {
    if (r.type !== 'container' || !moves(r)) continue;
    const details = input.source.containers[r.sourceId];
    if (!details) {
      findings.push({
        severity: 'error',
        code: 'container_details_missing',
        message: `no inspect details for container "${r.name}" on "${input.source.name}"; it cannot be recreated (was it removed?)`,
        resource: about(r),
      });
      continue;
    }
    for (const mount of details.mounts) {
      if (mount.type !== 'bind') continue;
      const rule = rules.get(trimSlash(mount.source));
      if (rule === undefined) {
        findings.push({
          severity: 'error',
          code: 'bind_mount_unmapped',
          message:
            `container "${r.name}" bind-mounts ${mount.source} (at ${mount.destination}), which has no rule; ` +
            `add a bind mount rule for ${mount.source}: the same path or another path on "${input.target.name}", or skip`,
          resource: about(r),
          details: { host_path: mount.source, container_path: mount.destination },
        });
      } else if ('path' in rule) {
        findings.push({
          severity: 'info',
          code: 'bind_mount_mapped',
          message: `container "${r.name}": ${mount.source} is mounted from ${rule.path} on "${input.target.name}" (at ${mount.destination})`,
          resource: about(r),
          details: { host_path: mount.source, container_path: mount.destination },
        });
      } else {
        findings.push({
          severity: 'info',
          code: 'bind_mount_skipped',
          message: `container "${r.name}": the bind mount of ${mount.source} at ${mount.destination} is left out on the target`,
          resource: about(r),
          details: { host_path: mount.source, container_path: mount.destination },
        });
      }
    }
  }
}

// ---- volume drivers ----

function checkVolumeDrivers(resources: PlannedResource[], input: PreflightInput, findings: Finding[]): void {
  const drivers = new Map<string, string>();
  for (const volume of input.source.inventory?.volumes ?? []) drivers.set(volume.name, volume.driver);
  const mountedBy = new Map<string, string>();
  for (const r of resources) {
    if (r.type !== 'container' || !moves(r)) continue;
    const details = input.source.containers[r.sourceId];
    for (const mount of details?.mounts ?? []) {
      if (mount.type === 'volume' && mount.name && !mountedBy.has(mount.name))
        mountedBy.set(mount.name, r.name);
    }
    // ContainerMount has no driver; the inspect document's Mounts do.
    const rawMounts = details?.raw.Mounts;
    for (const mount of Array.isArray(rawMounts) ? rawMounts : []) {
      const { Type, Name, Driver } = asRecord(mount) ?? {};
      if (Type !== 'volume' || typeof Name !== 'string') continue;
      if (typeof Driver === 'string' && Driver !== '' && !drivers.has(Name)) drivers.set(Name, Driver);
      if (!mountedBy.has(Name)) mountedBy.set(Name, r.name);
    }
  }

  const planned = new Map(resources.filter((r) => r.type === 'volume').map((r) => [r.sourceId, r]));
  const names = new Set([
    ...[...planned.values()].filter(moves).map((r) => r.sourceId),
    ...[...mountedBy.keys()].filter((n) => !planned.has(n)),
  ]);
  for (const name of names) {
    const driver = drivers.get(name);
    if (driver === undefined || driver === 'local') continue;
    const r = planned.get(name);
    const user = mountedBy.get(name);
    findings.push({
      severity: 'error',
      code: 'volume_driver',
      message:
        `volume "${name}"${user ? ` (mounted by "${user}")` : ''} uses the "${driver}" driver; only "local" volumes ` +
        `can be copied: leave it out, or create it on "${input.target.name}" first and use the skip policy`,
      resource: r ? about(r) : { type: 'volume', name },
    });
  }
}

// ---- where volume content lives ----

/**
 * Local volumes with driver options keep their content outside the Docker root. A bound host folder is copied into
 * the same folder on the target, which the user must accept; a network share and tmpfs are made with their options
 * only, their content not copied.
 */
function checkVolumeContent(
  resources: PlannedResource[],
  request: MigrationRequest,
  input: PreflightInput,
  findings: Finding[],
): void {
  const volumes = new Map((input.source.inventory?.volumes ?? []).map((v) => [v.name, v]));
  for (const r of resources) {
    if (r.type !== 'volume' || !moves(r)) continue;
    const volume = volumes.get(r.sourceId);
    if (!volume || volume.driver !== 'local') continue;
    const content = volumeContentOf(volume.options);
    const device = content.device ?? '';
    switch (content.kind) {
      case 'host_path':
        findings.push(
          unlessAcknowledged(
            request,
            'volume_host_path',
            `volume "${r.name}" is bound to the host folder ${device} on "${input.source.name}": its content is ` +
              `written into the host folder ${device} on "${input.target.name}" (made there if missing; files of the ` +
              'same name are replaced)',
            about(r),
          ),
        );
        break;
      case 'network_share':
        r.copyContent = false;
        findings.push({
          severity: 'warning',
          code: 'volume_network_share',
          message:
            `volume "${r.name}" is the network share ${device || `of ${volume.options.type ?? 'its options'}`}: ` +
            `its content stays on the share and is not copied; "${input.target.name}" mounts the same share, so it ` +
            'must be able to reach it',
          resource: about(r),
        });
        break;
      case 'tmpfs':
        r.copyContent = false;
        findings.push({
          severity: 'info',
          code: 'volume_tmpfs',
          message: `volume "${r.name}" is a tmpfs volume: it holds nothing while no container runs, so there is nothing to copy`,
          resource: about(r),
        });
        break;
      case 'docker_root':
      case 'device':
        break;
    }
  }
}

// ---- downtime ----

const STOPPED_BY_COLD: ReadonlySet<string> = new Set(['running', 'restarting', 'paused']);

function checkRunningSource(
  resources: PlannedResource[],
  request: MigrationRequest,
  input: PreflightInput,
  findings: Finding[],
): void {
  if (request.mode === 'live') return;
  const running = resources
    .filter((r) => r.type === 'container' && moves(r))
    .filter((r) => {
      const state = input.source.containers[r.sourceId]?.state;
      return state !== undefined && STOPPED_BY_COLD.has(state);
    })
    .map((r) => r.name);
  if (running.length === 0) return;
  const after =
    request.sourcePolicy === 'keep_running'
      ? 'restarted there afterwards'
      : request.sourcePolicy === 'remove'
        ? 'removed there afterwards'
        : 'left stopped there afterwards';
  const these =
    running.length === 1 ? 'this running container' : `these ${running.length} running containers`;
  if (request.mode === 'warm') {
    findings.push({
      severity: 'info',
      code: 'container_running_source',
      message:
        `warm migration copies the data of ${these} on "${input.source.name}" while it runs, then stops it only ` +
        `for the last copy of what changed (downtime until it starts on "${input.target.name}", aimed at ` +
        `${((request.downtimeBudgetMs ?? DEFAULT_DOWNTIME_BUDGET_MS) / 1000).toString()} s), ${after}: ${running.join(', ')}`,
    });
    return;
  }
  findings.push({
    severity: 'warning',
    code: 'container_running_source',
    message:
      `cold migration stops ${running.length === 1 ? 'this running container' : `these ${running.length} running containers`} ` +
      `on "${input.source.name}" while their data is copied (downtime until they start on "${input.target.name}"), ` +
      `${after}: ${running.join(', ')}`,
  });
}

/**
 * A running source container whose main process is a shell ignoring its stop signal is stopped only once its grace
 * period ran out: downtime the user can win back, said before the migration starts.
 */
function checkStopSignals(
  resources: PlannedResource[],
  request: MigrationRequest,
  input: PreflightInput,
  findings: Finding[],
): void {
  if (request.mode === 'live') return;
  for (const r of resources) {
    if (r.type !== 'container' || !moves(r)) continue;
    const details = input.source.containers[r.sourceId];
    if (details === undefined || !STOPPED_BY_COLD.has(details.state)) continue;
    const shell = shellIgnoringStopSignal(details);
    if (shell === undefined) continue;
    const { graceSeconds, graceFrom } = stopSettings(details, request.stopTimeoutSeconds);
    const grace =
      graceFrom === 'request'
        ? `the ${String(graceSeconds)} s stop timeout this migration sets`
        : graceFrom === 'container'
          ? `its own stop timeout of ${String(graceSeconds)} s`
          : `Docker's default stop timeout of ${String(graceSeconds)} s (the container sets none)`;
    findings.push({
      severity: 'warning',
      code: 'stop_signal_ignored',
      resource: about(r),
      message:
        `container ${r.name} runs a shell as its main process (${shell.length > 80 ? `${shell.slice(0, 79)}…` : shell}) ` +
        `and sets no STOPSIGNAL: a shell as PID 1 ignores SIGTERM unless it traps it, so stopping it likely waits out ` +
        `${grace} before killing it — all of it downtime` +
        (graceFrom === 'request'
          ? ''
          : '. To shorten it: exec the service from the shell, run the container with --init, give it a STOPSIGNAL ' +
            "it handles, or set this migration's stop_timeout"),
    });
  }
}

// ---- writable layers ----

/** How many changed paths a finding names before "…". */
const CHANGED_PATHS_SHOWN = 5;

/**
 * Files a container changed outside its volumes live in its writable layer, which is never migrated. Removing the
 * source container afterwards deletes them for good, so that blocks until acknowledged.
 */
function checkWritableLayers(
  resources: PlannedResource[],
  request: MigrationRequest,
  input: PreflightInput,
  findings: Finding[],
): void {
  for (const r of resources) {
    if (r.type !== 'container' || !moves(r)) continue;
    const changed = input.source.changes?.[r.sourceId];
    if (!changed || changed.count === 0) continue;
    const shown = changed.paths.slice(0, CHANGED_PATHS_SHOWN);
    const files = changed.count === 1 ? '1 file' : `${changed.count} files`;
    const examples = `${shown.join(', ')}${changed.count > shown.length ? ', …' : ''}`;
    const message =
      `container "${r.name}" has ${files} changed outside its volumes (${examples}): only volumes are migrated, so ` +
      `${changed.count === 1 ? 'it is' : 'they are'} not on "${input.target.name}"`;
    if (request.sourcePolicy === 'remove') {
      findings.push(
        unlessAcknowledged(
          request,
          'writable_layer_changes',
          `${message}, and removing it on "${input.source.name}" afterwards deletes ${changed.count === 1 ? 'it' : 'them'}`,
          about(r),
        ),
      );
    } else {
      findings.push({
        severity: 'warning',
        code: 'writable_layer_changes',
        message: `${message}; they stay in the container on "${input.source.name}"`,
        resource: about(r),
      });
    }
  }
}
