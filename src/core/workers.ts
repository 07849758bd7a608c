// What the master knows of each worker: identity, certificate, liveness figures and its last inventory.
import type { ContainerSummary, ImageSummary, NetworkSummary, VolumeSummary } from './docker-resources.js';

/** System figures a worker sends with each heartbeat. */
export interface WorkerSystem {
  cpuPercent: number;
  cpus: number;
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  /** Free bytes on the filesystem holding the Docker root directory. */
  dockerRootFreeBytes: number;
}

/** A worker as persisted by the master. Never deleted: removal revokes it (revokedAt) and keeps the row. */
export interface WorkerRecord {
  /** Stable identity, e.g. "w-3f2a9c0d1e4b"; named in the worker's certificate. */
  id: string;
  name: string;
  hostname: string;
  labels: Record<string, string>;
  /** docker-migrate version the worker runs. */
  version: string;
  /** host:port where other workers reach its transfer service. */
  advertiseAddress: string;
  dockerVersion: string;
  /** ISO 8601 times. */
  enrolledAt: string;
  lastSeenAt: string | null;
  system: WorkerSystem | null;
  activeTasks: number;
  revokedAt: string | null;
}

/** A certificate the master's CA issued to a worker. */
export interface CertificateRecord {
  /** Hex serial number, as printed by openssl (lower case, no colons). */
  serial: string;
  workerId: string;
  notBefore: string;
  notAfter: string;
  revokedAt: string | null;
}

/** Everything a worker's engine holds, as last reported. */
export interface Inventory {
  containers: ContainerSummary[];
  images: ImageSummary[];
  volumes: VolumeSummary[];
  networks: NetworkSummary[];
}

export interface InventoryRecord {
  workerId: string;
  inventory: Inventory;
  /** Increases with each snapshot or delta the worker sends. */
  sequence: number;
  updatedAt: string;
}

/** One mutating API call, kept for the audit page. */
export interface AuditEntry {
  id: number;
  at: string;
  /** Who: "admin" (admin token), "session:<id>", or "worker:<id>". */
  actor: string;
  /** What, e.g. "DELETE /api/workers/:id" or "worker.enroll". */
  action: string;
  /** The object acted on, e.g. a worker id. */
  target: string | null;
  outcome: 'ok' | 'error';
  /** HTTP status (or 0 for non-HTTP actions). */
  status: number;
  details: Record<string, unknown>;
  remoteAddress: string | null;
  /**
   * What happened, as a person reads it ("web, data (+2) from hosta to hostb: cold, full"), with names rather
   * than ids; null for an entry that has nothing to add to its action and target (older entries too).
   */
  summary: string | null;
}

/** An entry to append: the store gives it its id, and a summary left out is stored as none. */
export type NewAuditEntry = Omit<AuditEntry, 'id' | 'summary'> & { summary?: string | null };

/**
 * A signed-in browser session. Only the SHA-256 of its secret is kept, so a copy of the database signs no one
 * in; `adminTokenHash` is the admin token's hash when the session began, so that changing the token ends it.
 */
export interface SessionRecord {
  idHash: string;
  createdAt: string;
  expiresAt: string;
  adminTokenHash: string;
}

/** Counts shown for a worker; derived from its inventory. */
export interface InventoryCounts {
  containers: number;
  runningContainers: number;
  images: number;
  volumes: number;
  networks: number;
}

export function countInventory(inventory: Inventory | undefined): InventoryCounts {
  return {
    containers: inventory?.containers.length ?? 0,
    runningContainers: inventory?.containers.filter((c) => c.state === 'running').length ?? 0,
    images: inventory?.images.length ?? 0,
    volumes: inventory?.volumes.length ?? 0,
    networks: inventory?.networks.length ?? 0,
  };
}
