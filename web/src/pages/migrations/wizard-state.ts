// The migration wizard's logic without React: its state and reducer, what each step needs before Next, what selected
// containers bring along, compose projects from labels, the request body, and when "Start migration" is allowed.
import type {
  ConflictPolicy,
  FindingJson,
  MigrationMode,
  MigrationRequestBody,
  MigrationStrategy,
  SourcePolicy,
  TransferCompression,
  TransferMode,
} from '../../api/migration-types';
import type {
  ContainerSummary,
  NetworkSummary,
  WorkerJson,
  WorkerResourcesJson,
} from '../../api/worker-types';
import { plural, shortId } from '../../lib/format';
import { acknowledgeableCodes, groupFindings } from '../../lib/migration-findings';
import { matchesFilter } from '../../lib/worker-resources';

export type WizardStep = 1 | 2 | 3 | 4 | 5;

export const STEP_COUNT = 5;

export const STEP_TITLES: Record<WizardStep, string> = {
  1: 'Source worker',
  2: 'Resources',
  3: 'Target worker',
  4: 'Options',
  5: 'Review',
};

/** The label Docker Compose puts on every container of a project. */
export const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';

const BUILT_IN_NETWORKS: ReadonlySet<string> = new Set(['bridge', 'host', 'none']);

/** What the user picked: container ids, image ids, volume names, network ids and compose project names. */
export interface Selection {
  containers: string[];
  images: string[];
  volumes: string[];
  networks: string[];
  composeProjects: string[];
}

export type SelectionKind = keyof Selection;

export interface WizardOptions {
  mode: MigrationMode;
  strategy: MigrationStrategy;
  transferMode: TransferMode;
  compression: TransferCompression;
  conflictPolicy: ConflictPolicy;
  sourcePolicy: SourcePolicy;
}

/** One bind mount rule as typed: a source host path, and a target host path unless the mount is skipped. */
export interface BindMountRow {
  id: number;
  source: string;
  target: string;
  skip: boolean;
}

export interface WizardState {
  step: WizardStep;
  sourceId: string | null;
  targetId: string | null;
  selection: Selection;
  filter: string;
  options: WizardOptions;
  bindMounts: BindMountRow[];
  nextBindMountId: number;
  /** The warnings (by warningSignature) the user said they read; other warnings need a new tick. */
  acknowledged: string | null;
}

export type WizardAction =
  | { type: 'chooseSource'; workerId: string }
  | { type: 'toggle'; kind: SelectionKind; id: string }
  | { type: 'setFilter'; filter: string }
  | { type: 'chooseTarget'; workerId: string }
  | { type: 'setOptions'; options: Partial<WizardOptions> }
  | { type: 'addBindMount' }
  | { type: 'updateBindMount'; id: number; changes: Partial<Omit<BindMountRow, 'id'>> }
  | { type: 'removeBindMount'; id: number }
  | { type: 'addDetectedBindMounts'; sources: string[] }
  | { type: 'acknowledge'; warnings: string | null }
  | { type: 'next' }
  | { type: 'back' }
  | { type: 'goTo'; step: WizardStep };

export const DEFAULT_OPTIONS: WizardOptions = {
  mode: 'cold',
  strategy: 'full',
  transferMode: 'auto',
  compression: 'none',
  conflictPolicy: 'fail',
  sourcePolicy: 'keep_stopped',
};

const EMPTY_SELECTION: Selection = {
  containers: [],
  images: [],
  volumes: [],
  networks: [],
  composeProjects: [],
};

/** A fresh wizard; `from` (the ?from= of the page) preselects the source worker. */
/**
 * The wizard's first state; with a source worker (`from`) and one of its containers (`container`, the worker page's
 * "Migrate" action), it opens on step 2 with that container ticked.
 */
export function initialWizardState(from?: string | null, container?: string | null): WizardState {
  const sourceId = from === undefined || from === null || from === '' ? null : from;
  const picked = sourceId !== null && container !== undefined && container !== null && container !== '';
  return {
    step: picked ? 2 : 1,
    sourceId,
    targetId: null,
    selection: picked ? { ...EMPTY_SELECTION, containers: [container] } : EMPTY_SELECTION,
    filter: '',
    options: DEFAULT_OPTIONS,
    bindMounts: [],
    nextBindMountId: 1,
    acknowledged: null,
  };
}

function clampStep(step: number): WizardStep {
  return Math.min(STEP_COUNT, Math.max(1, step)) as WizardStep;
}

function toggled(list: string[], id: string): string[] {
  return list.includes(id) ? list.filter((item) => item !== id) : [...list, id];
}

/**
 * Every change to what would be migrated drops the acknowledgement of warnings, so that a tick given for one plan
 * never starts another.
 */
export function wizardReducer(state: WizardState, action: WizardAction): WizardState {
  const changed = (patch: Partial<WizardState>): WizardState => ({ ...state, ...patch, acknowledged: null });
  switch (action.type) {
    case 'chooseSource':
      if (action.workerId === state.sourceId) return state;
      // Resources and bind mounts belong to the old source; a target equal to the new source is no target.
      return changed({
        sourceId: action.workerId,
        targetId: state.targetId === action.workerId ? null : state.targetId,
        selection: EMPTY_SELECTION,
        bindMounts: [],
        filter: '',
      });
    case 'toggle':
      return changed({
        selection: { ...state.selection, [action.kind]: toggled(state.selection[action.kind], action.id) },
      });
    case 'setFilter':
      return { ...state, filter: action.filter };
    case 'chooseTarget':
      return changed({ targetId: action.workerId });
    case 'setOptions':
      return changed({ options: { ...state.options, ...action.options } });
    case 'addBindMount':
      return changed({
        bindMounts: [...state.bindMounts, { id: state.nextBindMountId, source: '', target: '', skip: false }],
        nextBindMountId: state.nextBindMountId + 1,
      });
    case 'updateBindMount':
      return changed({
        bindMounts: state.bindMounts.map((row) =>
          row.id === action.id ? { ...row, ...action.changes } : row,
        ),
      });
    case 'removeBindMount':
      return changed({ bindMounts: state.bindMounts.filter((row) => row.id !== action.id) });
    case 'addDetectedBindMounts': {
      const known = new Set(state.bindMounts.map((row) => trimSlash(row.source.trim())));
      const rows = [...state.bindMounts];
      let nextId = state.nextBindMountId;
      for (const source of action.sources) {
        if (known.has(trimSlash(source))) continue;
        known.add(trimSlash(source));
        // The same path on the target is the usual answer; the user can change it or choose skip.
        rows.push({ id: nextId, source, target: source, skip: false });
        nextId += 1;
      }
      return changed({ bindMounts: rows, nextBindMountId: nextId });
    }
    case 'acknowledge':
      return { ...state, acknowledged: action.warnings };
    case 'next':
      return { ...state, step: clampStep(state.step + 1) };
    case 'back':
      return { ...state, step: clampStep(state.step - 1) };
    case 'goTo':
      // Only back to a step already passed: the steps after it were checked in order.
      return action.step <= state.step ? { ...state, step: action.step } : state;
  }
}

// ---- resources ----

/** Networks every Docker host has by itself (bridge, host, none): never migrated. */
export function isUserNetwork(network: Pick<NetworkSummary, 'name'> & { builtIn?: boolean }): boolean {
  return network.builtIn !== true && !BUILT_IN_NETWORKS.has(network.name);
}

export function userNetworks(networks: NetworkSummary[]): NetworkSummary[] {
  return networks.filter(isUserNetwork);
}

/** A readable name for an image: its first tag, or its short id when it has none. */
export function imageName(image: { id: string; tags: string[] }): string {
  return image.tags[0] ?? shortId(image.id);
}

export interface ContainerDependencies {
  image: { id: string; name: string };
  volumes: string[];
  networks: { id: string; name: string }[];
}

/** What the planner adds for a container: its image, its named volumes and its user-defined networks. */
export function containerDependencies(
  container: ContainerSummary,
  resources: Pick<WorkerResourcesJson, 'images' | 'networks'>,
): ContainerDependencies {
  const image = resources.images.find((candidate) => candidate.id === container.imageId);
  const networks: { id: string; name: string }[] = [];
  for (const name of new Set(container.networkNames)) {
    const network = resources.networks.find((candidate) => candidate.name === name);
    if (!isUserNetwork(network ?? { name })) continue;
    networks.push({ id: network?.id ?? name, name });
  }
  return {
    image: {
      id: container.imageId,
      name:
        image !== undefined
          ? imageName(image)
          : container.image || imageName({ id: container.imageId, tags: [] }),
    },
    volumes: [...new Set(container.volumeNames)],
    networks,
  };
}

export interface ComposeProject {
  name: string;
  containers: ContainerSummary[];
}

/** Compose projects on a worker, from the label Compose puts on its containers, by name. */
export function composeProjects(containers: ContainerSummary[]): ComposeProject[] {
  const byName = new Map<string, ContainerSummary[]>();
  for (const container of containers) {
    const project = container.labels[COMPOSE_PROJECT_LABEL];
    if (project === undefined || project === '') continue;
    byName.set(project, [...(byName.get(project) ?? []), container]);
  }
  return [...byName.entries()]
    .map(([name, members]) => ({ name, containers: members }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export type BroughtAlongKey = `${'container' | 'image' | 'volume' | 'network'}:${string}`;

/**
 * What the selection brings along without being ticked itself, and by whom: containers of a selected compose
 * project, and the image, volumes and networks of every selected container. Keys are "container:<id>",
 * "image:<id>", "volume:<name>" and "network:<name>"; values are the names of what brings them.
 */
export function broughtAlong(
  selection: Selection,
  resources: Pick<WorkerResourcesJson, 'containers' | 'images' | 'networks'>,
): Map<BroughtAlongKey, string[]> {
  const found = new Map<BroughtAlongKey, string[]>();
  const add = (key: BroughtAlongKey, by: string): void => {
    const list = found.get(key) ?? [];
    if (!list.includes(by)) found.set(key, [...list, by]);
  };
  const bringers: ContainerSummary[] = [];
  for (const container of resources.containers) {
    if (selection.containers.includes(container.id)) bringers.push(container);
  }
  for (const project of selection.composeProjects) {
    for (const container of resources.containers) {
      if (container.labels[COMPOSE_PROJECT_LABEL] !== project) continue;
      if (!selection.containers.includes(container.id))
        add(`container:${container.id}`, `project ${project}`);
      if (!bringers.includes(container)) bringers.push(container);
    }
  }
  for (const container of bringers) {
    const dependencies = containerDependencies(container, resources);
    add(`image:${dependencies.image.id}`, container.name);
    for (const volume of dependencies.volumes) add(`volume:${volume}`, container.name);
    for (const network of dependencies.networks) add(`network:${network.name}`, container.name);
  }
  return found;
}

const SELECTION_KINDS: readonly SelectionKind[] = [
  'containers',
  'composeProjects',
  'volumes',
  'images',
  'networks',
];

/** How many things are ticked, of every kind. */
export function selectedCount(selection: Selection): number {
  return SELECTION_KINDS.reduce((sum, kind) => sum + selection[kind].length, 0);
}

export function hasSelection(selection: Selection): boolean {
  return selectedCount(selection) > 0;
}

export interface FilteredResources {
  containers: ContainerSummary[];
  projects: ComposeProject[];
  volumes: WorkerResourcesJson['volumes'];
  images: WorkerResourcesJson['images'];
  networks: NetworkSummary[];
}

/** The lists the resources step shows: by name, sorted, user-defined networks only, narrowed by the filter box. */
export function filterResources(resources: WorkerResourcesJson, filter: string): FilteredResources {
  const byName =
    <T>(name: (item: T) => string) =>
    (a: T, b: T) =>
      name(a).localeCompare(name(b));
  return {
    containers: resources.containers
      .filter((c) => matchesFilter(filter, c.name, c.image, c.state, c.labels[COMPOSE_PROJECT_LABEL]))
      .sort(byName((c) => c.name)),
    projects: composeProjects(resources.containers).filter(
      (p) => matchesFilter(filter, p.name) || p.containers.some((c) => matchesFilter(filter, c.name)),
    ),
    volumes: resources.volumes
      .filter((v) => matchesFilter(filter, v.name, v.driver))
      .sort(byName((v) => v.name)),
    images: resources.images
      .filter((i) => matchesFilter(filter, i.id, ...i.tags))
      .sort(byName((i) => imageName(i))),
    networks: userNetworks(resources.networks)
      .filter((n) => matchesFilter(filter, n.name, n.driver))
      .sort(byName((n) => n.name)),
  };
}

/** Names of what is selected, for the review; ids the worker no longer lists are shown as they are. */
export function selectionNames(selection: Selection, resources: WorkerResourcesJson | undefined): Selection {
  const name = <T>(list: T[] | undefined, id: (item: T) => string, label: (item: T) => string) => {
    return (wanted: string): string => {
      const item = list?.find((candidate) => id(candidate) === wanted);
      return item === undefined ? wanted : label(item);
    };
  };
  return {
    containers: selection.containers.map(
      name(
        resources?.containers,
        (c) => c.id,
        (c) => c.name,
      ),
    ),
    images: selection.images.map(name(resources?.images, (i) => i.id, imageName)),
    volumes: [...selection.volumes],
    networks: selection.networks.map(
      name(
        resources?.networks,
        (n) => n.id,
        (n) => n.name,
      ),
    ),
    composeProjects: [...selection.composeProjects],
  };
}

// ---- bind mounts ----

function trimSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

/** What is wrong with the bind mount rules, one sentence each; empty when they can be sent. */
export function bindMountProblems(rows: BindMountRow[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  rows.forEach((row, index) => {
    const which = `Bind mount ${index + 1}`;
    const source = row.source.trim();
    const target = row.target.trim();
    if (source === '') problems.push(`${which}: enter the source path, or remove the row.`);
    else if (!source.startsWith('/'))
      problems.push(`${which}: the source path must be absolute (start with /).`);
    else if (seen.has(trimSlash(source))) problems.push(`${which}: ${source} is listed twice.`);
    seen.add(trimSlash(source));
    if (row.skip) return;
    if (target === '') problems.push(`${which}: enter a target path, or choose skip.`);
    else if (!target.startsWith('/'))
      problems.push(`${which}: the target path must be absolute (start with /).`);
  });
  return problems;
}

/** The request's bind_mounts: source path → target path, or "skip". */
export function bindMountRules(rows: BindMountRow[]): Record<string, string> {
  const rules: Record<string, string> = {};
  for (const row of rows) {
    const source = row.source.trim();
    if (source === '') continue;
    rules[source] = row.skip ? 'skip' : row.target.trim();
  }
  return rules;
}

export interface DetectedBindMount {
  container: string;
  source: string;
  destination: string;
}

/**
 * Bind mounts preflight found without a rule (code bind_mount_unmapped). The API does not list a container's
 * mounts, so the dry run's findings are where the wizard learns the paths (their details), one per source path.
 */
export function detectedBindMounts(findings: FindingJson[]): DetectedBindMount[] {
  const found: DetectedBindMount[] = [];
  for (const finding of findings) {
    if (finding.code !== 'bind_mount_unmapped' || finding.details === undefined) continue;
    const { host_path: source, container_path: destination } = finding.details;
    if (found.some((mount) => mount.source === source)) continue;
    found.push({ container: finding.resource?.name ?? '', source, destination });
  }
  return found;
}

// ---- steps ----

function workerProblem(
  workerId: string | null,
  workers: Pick<WorkerJson, 'id' | 'name' | 'online'>[],
  role: 'source' | 'target',
): string | null {
  if (workerId === null) return `Choose the worker to migrate ${role === 'source' ? 'from' : 'to'}.`;
  const worker = workers.find((candidate) => candidate.id === workerId);
  if (worker === undefined) return `The ${role} worker is not enrolled any more; choose another one.`;
  if (!worker.online) return `${worker.name} is offline; choose an online worker.`;
  return null;
}

/** Why Next is not possible yet on the current step, in words, or null when it is. */
export function stepProblem(
  state: WizardState,
  workers: Pick<WorkerJson, 'id' | 'name' | 'online'>[],
): string | null {
  switch (state.step) {
    case 1:
      return workerProblem(state.sourceId, workers, 'source');
    case 2:
      return hasSelection(state.selection)
        ? null
        : 'Select at least one container, compose project, volume, image or network.';
    case 3:
      if (state.targetId !== null && state.targetId === state.sourceId)
        return 'The target must be another worker than the source.';
      return workerProblem(state.targetId, workers, 'target');
    case 4:
      return bindMountProblems(state.bindMounts)[0] ?? null;
    case 5:
      return null;
  }
}

/** The body of POST /api/migrations for the wizard's choices; `dryRun` asks for the plan and findings only. */
export function buildRequest(state: WizardState, dryRun: boolean): MigrationRequestBody {
  if (state.sourceId === null || state.targetId === null) {
    throw new Error('a migration request needs a source and a target worker');
  }
  return {
    source_worker_id: state.sourceId,
    target_worker_id: state.targetId,
    container_ids: [...state.selection.containers],
    image_ids: [...state.selection.images],
    volume_names: [...state.selection.volumes],
    network_ids: [...state.selection.networks],
    compose_projects: [...state.selection.composeProjects],
    mode: state.options.mode,
    strategy: state.options.strategy,
    transfer_mode: state.options.transferMode,
    compression: state.options.compression,
    conflict_policy: state.options.conflictPolicy,
    source_policy: state.options.sourcePolicy,
    bind_mounts: bindMountRules(state.bindMounts),
    acknowledge: [],
    dry_run: dryRun,
  };
}

/**
 * Whether the choices make an incremental re-sync of volumes whose users keep running on the source: volumes
 * selected without any container or compose project (so nothing is stopped for the copy) and the source kept
 * running. Such a copy is only crash-consistent, as the source keeps writing while it is read; images and networks
 * selected beside the volumes change nothing to that.
 */
export function isRunningResync(state: Pick<WizardState, 'options' | 'selection'>): boolean {
  const { options, selection } = state;
  return (
    options.strategy === 'incremental' &&
    options.sourcePolicy === 'keep_running' &&
    selection.volumes.length > 0 &&
    selection.containers.length === 0 &&
    selection.composeProjects.length === 0
  );
}

/**
 * The start request for a plan whose findings the user acknowledged: it names the codes of the acknowledgeable
 * findings shown, so that the master's preflight turns those into warnings instead of blocking.
 */
export function startRequest(body: MigrationRequestBody, shown: FindingJson[]): MigrationRequestBody {
  return { ...body, acknowledge: acknowledgeableCodes(shown), dry_run: false };
}

// ---- findings and start ----

/**
 * One string for the findings the user must read (warnings, and errors that block only until accepted), so that an
 * acknowledgement holds for exactly those; null when there are none.
 */
export function warningSignature(findings: FindingJson[]): string | null {
  const groups = groupFindings(findings);
  const warnings = [...groups.acknowledge, ...groups.warning];
  if (warnings.length === 0) return null;
  return warnings.map((warning) => `${warning.code}\u0000${warning.message}`).join('\u0001');
}

export interface StartDecision {
  allowed: boolean;
  /** What to do before starting, when not allowed. */
  reason: string | null;
}

/**
 * Whether "Start migration" may be pressed: a preflight answer is needed, errors block, and warnings need the
 * user's acknowledgement of exactly these warnings.
 */
export function startDecision(
  preflight: { findings: FindingJson[]; blocked: boolean } | undefined,
  acknowledged: string | null,
): StartDecision {
  if (preflight === undefined) {
    return { allowed: false, reason: 'Wait for the preflight check to answer, or run it again.' };
  }
  const errors = groupFindings(preflight.findings).error.length;
  const fix = 'fix what the errors say (change the options, or the target), then run preflight again.';
  if (errors > 0) {
    return {
      allowed: false,
      reason: `Preflight found ${plural(errors, 'error')} that ${errors === 1 ? 'blocks' : 'block'} the migration: ${fix}`,
    };
  }
  const toAccept = groupFindings(preflight.findings).acknowledge.length;
  // A dry run blocked only by findings to accept is not blocked once they are accepted with the start request.
  if (preflight.blocked && toAccept === 0) {
    return { allowed: false, reason: `Preflight blocks the migration: ${fix}` };
  }
  const signature = warningSignature(preflight.findings);
  if (signature !== null && acknowledged !== signature) {
    return {
      allowed: false,
      reason:
        toAccept > 0
          ? `Read the warnings and tick "I have read the warnings" to start: ${toAccept === 1 ? 'one of them blocks' : `${toAccept} of them block`} the migration until you accept ${toAccept === 1 ? 'it' : 'them'} so.`
          : 'Read the warnings and tick "I have read the warnings" to start.',
    };
  }
  return { allowed: true, reason: null };
}
