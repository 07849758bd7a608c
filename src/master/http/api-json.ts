// The REST API's JSON (snake_case) for workers, counts, audit entries, enrollment and live events: the contract's
// types, built field by field. Inventory items (containers, images, volumes, networks) are sent as the domain keeps them.
import type {
  AuditEntryJson,
  ChangeJson,
  CountsJson,
  EnrollmentJson,
  EventJson,
  WorkerJson,
} from '../../contract/index.js';
import type { AuditEntry, InventoryCounts } from '../../core/workers.js';
import type { EnrollmentInfo } from '../master-context.js';
import { migrationEventJson, migrationJson } from './migration-json.js';
import type { MasterEvent, WorkerView } from '../worker-registry.js';

/** Counts in the API's spelling; the web UI and scripts read these names. */
export function countsJson(counts: InventoryCounts): CountsJson {
  return {
    containers: counts.containers,
    running_containers: counts.runningContainers,
    images: counts.images,
    volumes: counts.volumes,
    networks: counts.networks,
  };
}

/**
 * A worker as the API shows it. Built field by field rather than by renaming keys, so that a field added to the
 * record (such as revokedAt) does not reach clients until someone decides it should.
 */
export function workerJson(worker: WorkerView): WorkerJson {
  return {
    id: worker.id,
    name: worker.name,
    hostname: worker.hostname,
    labels: worker.labels,
    version: worker.version,
    status: worker.status,
    online: worker.online,
    last_heartbeat: worker.lastSeenAt,
    enrolled_at: worker.enrolledAt,
    grpc_address: worker.advertiseAddress,
    docker_version: worker.dockerVersion,
    active_tasks: worker.activeTasks,
    counts: countsJson(worker.counts),
    system:
      worker.system === null
        ? null
        : {
            cpu_percent: worker.system.cpuPercent,
            cpus: worker.system.cpus,
            memory_total_bytes: worker.system.memoryTotalBytes,
            memory_used_bytes: worker.system.memoryUsedBytes,
            docker_root_free_bytes: worker.system.dockerRootFreeBytes,
          },
  };
}

/** An audit entry in the API's spelling. */
export function auditEntryJson(entry: AuditEntry): AuditEntryJson {
  return {
    id: entry.id,
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    outcome: entry.outcome,
    status: entry.status,
    details: entry.details,
    remote_address: entry.remoteAddress,
    summary: entry.summary,
  };
}

/** The enrollment token and the commands that use it, for the "add a worker" page. */
export function enrollmentJson(info: EnrollmentInfo, installCommand: string | null): EnrollmentJson {
  return {
    token: info.token,
    ca_hash: info.caHash,
    master_url: info.masterUrl,
    join_command: info.joinCommand,
    install_command: installCommand,
  };
}

/**
 * A registry event as the live stream sends it. Inventory changes carry only kind, key and whether the object
 * went away: items can be large (labels, env-derived names) and the UI refetches the lists it shows anyway.
 */
export function eventJson(event: MasterEvent): EventJson {
  switch (event.type) {
    case 'worker.online':
    case 'worker.enrolled':
      return { type: event.type, data: { worker: workerJson(event.worker) } };
    case 'worker.offline':
      return { type: event.type, data: { worker: workerJson(event.worker), reason: event.reason } };
    case 'worker.removed':
      return { type: event.type, data: { worker_id: event.workerId } };
    case 'inventory.changed':
      return {
        type: event.type,
        data: {
          worker_id: event.workerId,
          counts: countsJson(event.counts),
          changes: event.changes.map((change): ChangeJson => ({
            kind: change.kind,
            key: change.key,
            removed: change.item === undefined,
          })),
        },
      };
    case 'migration.updated': {
      // Progress updates stay small: the live view needs figures, not the plan's findings.
      const { findings: _findings, ...json } = migrationJson(event.migration);
      return { type: event.type, data: { migration: json } };
    }
    case 'migration.event':
      return {
        type: event.type,
        data: { migration_id: event.event.migrationId, event: migrationEventJson(event.event) },
      };
  }
}
