// What the master's HTTP layer may use: the registry, the store, token handling and metrics — wired in start-master.ts.
import type { ContainerDetails } from '../core/docker-resources.js';
import type { MasterStore } from '../core/ports.js';
import type { EventLog } from './event-log.js';
import type { MasterMetrics } from './metrics.js';
import type { MigrationNotice, MigrationService } from './migration-service.js';
import type { PairingCode } from './pairing-codes.js';
import type { ReleaseDownloads } from './release-downloads.js';
import type { SessionManager } from './sessions.js';
import type { WorkerRegistry } from './worker-registry.js';

export interface EnrollmentInfo {
  token: string;
  /** "sha256:…" of the master CA's public key. */
  caHash: string;
  /** host:port workers dial. */
  masterUrl: string;
  /** The full command to run on a new host. */
  joinCommand: string;
}

/** Whether this master leads, and where the leader is when it does not. */
export interface LeadershipInfo {
  leader: boolean;
  /** This master's epoch when it leads; else the leader's as last seen (0: none yet). */
  epoch: number;
  /** The leading master's HTTP base URL, where a standby forwards API calls; undefined when unknown. */
  leaderHttpUrl?: string | undefined;
}

export interface MasterContext {
  /** The workers of this master's term; reading it on a standby throws `unavailable` (reason not_leader). */
  readonly registry: WorkerRegistry;
  /** The live events with their ids, which the event stream sends and replays. */
  events: EventLog;
  store: MasterStore;
  metrics: MasterMetrics;
  /** The migrations of this master's term; reading it on a standby throws `unavailable` (reason not_leader). */
  readonly migrations: MigrationService;
  /** Migration notices of whichever term runs on this master, for listeners that outlive a term. */
  subscribeMigrations(listener: (notice: MigrationNotice) => void): () => void;
  /** Leader or standby (several masters on one PostgreSQL); a single master always leads. */
  leadership(): LeadershipInfo;
  /** The current enrollment token and join command. */
  enrollment(): EnrollmentInfo;
  /** Replaces the enrollment token (the old one stops enrolling; enrolled workers are not affected). */
  regenerateEnrollmentToken(): Promise<EnrollmentInfo>;
  /** Constant-time check of an admin token against the stored hash. */
  checkAdminToken(token: string): Promise<boolean>;
  /** Web UI sessions (cookie) begun with the admin token. */
  sessions: SessionManager;
  /** Whether the master is ready to serve (store open, gRPC listening). */
  ready(): boolean;
  version: string;
  /** A short-lived, single-use pairing code and the join command that uses it. */
  createPairingCode(): Promise<PairingCode & { joinCommand: string }>;
  /** The release archives served at /downloads/ (for /install.sh). */
  releases: ReleaseDownloads;
  /** The worker install script (packaging/install-worker.sh) before this master's addresses are filled in. */
  installScript: string | undefined;
  /** The container as the worker's engine describes it now (a command on the worker's control stream). */
  inspectContainer(workerId: string, ref: string): Promise<ContainerDetails>;
}
