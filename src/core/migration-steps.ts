// The steps a migration is made of, as data: what a strategy (cold today, warm next) lists and the runner hands to
// one handler per kind. A step names its resource by key, so a list of steps can be stored and compared.
import type { MigrationPhase, PlannedResource, ResourceType } from './migration.js';

/** A plan's resource as a step names it: `type/sourceId` (unique within a plan). */
export type ResourceKey = `${ResourceType}/${string}`;

export function resourceKey(resource: Pick<PlannedResource, 'type' | 'sourceId'>): ResourceKey {
  return `${resource.type}/${resource.sourceId}`;
}

/**
 * Which copy of a volume a `volume.copy` step makes. `full`: the one copy of a cold migration, the source
 * stopped. Warm mode adds numbered pre-copy rounds (1, 2, …) while the source runs, then `final` once it is
 * stopped: only `full` and `final` may precede starting a target. A cold migration with the incremental strategy
 * makes one `final` round: a sync against what the target holds (its earlier copy, or nothing).
 */
export type VolumeRound = 'full' | 'final' | number;

export type MigrationStep =
  /**
   * Enters a phase: the phase's failpoint (`pause:<phase>`), then the phase recorded. A strategy emits it even for
   * a phase with no step of its own (today's records show `prepare`, `transfer`, `create` and `start` always).
   */
  | { kind: 'phase'; phase: MigrationPhase }
  /** Creates the network on the target (or keeps the target's under `overwrite`). */
  | { kind: 'network.prepare'; resource: ResourceKey }
  /** Sends the image's missing layers to the target, or tags the one it holds. */
  | { kind: 'image.prepare'; resource: ResourceKey }
  /**
   * Stops source containers together (one stop level: none of them needs another of the level), recording first
   * which ran; downtime counts from the first stop request.
   */
  | { kind: 'source.stop'; resources: ResourceKey[] }
  /**
   * Makes the volume on the target: created empty, or the target's emptied with its content kept aside
   * (`overwrite`). A volume whose content is not copied is done after this step.
   */
  | { kind: 'volume.create'; resource: ResourceKey }
  /**
   * The incremental strategy, for a volume the target already holds (`update`): the target describes what its copy
   * holds (a manifest), and that goes to the source as the base the copy then sends the difference against. Made
   * before anything changes on either side: a target copy that changed since it was made is refused here.
   */
  | { kind: 'volume.base'; resource: ResourceKey }
  /** Copies the volume's content into the target's volume made by `volume.create`. */
  | { kind: 'volume.copy'; resource: ResourceKey; round: VolumeRound }
  /** Creates the container on the target (an `overwrite`n one set aside first). */
  | { kind: 'container.create'; resource: ResourceKey }
  /** Starts a target container whose source ran, and waits until it runs (and is healthy). */
  | { kind: 'container.start'; resource: ResourceKey }
  /**
   * The switch-over point: everything runs on the target. Recorded durably (with downtime and rate) before the
   * source is touched again; after it, recovery finishes the migration instead of rolling it back.
   */
  | { kind: 'switch_over' };

export type MigrationStepKind = MigrationStep['kind'];

/** What running a step produced, fed back to the strategy so that it can decide the next one. */
export interface StepOutcome {
  step: MigrationStep;
  /** Bytes the step moved (an image sent, a volume's content copied); 0 for the others. */
  bytes: number;
  /** How long the step took, on the master's monotonic clock. */
  durationMs: number;
  /** A pre-copy `volume.copy`: what the source read for it, and what its final round would re-check (hot). */
  precopy?: { bytesRead: number; hotBytes: number };
}

/** What a step handler answers: the bytes it moved, and for a pre-copy round what the stop rule needs. */
export interface StepResult {
  bytes: number;
  precopy?: { bytesRead: number; hotBytes: number };
}

/** A short, stable name of a step, for logs and (later) the journal: `volume.copy:final:volume/db-data`. */
export function stepKey(step: MigrationStep): string {
  switch (step.kind) {
    case 'phase':
      return `phase:${step.phase}`;
    case 'switch_over':
      return 'switch_over';
    case 'volume.copy':
      return `volume.copy:${step.round}:${step.resource}`;
    case 'source.stop':
      return `source.stop:${step.resources.join('+')}`;
    case 'network.prepare':
    case 'image.prepare':
    case 'volume.create':
    case 'volume.base':
    case 'container.create':
    case 'container.start':
      return `${step.kind}:${step.resource}`;
  }
}
