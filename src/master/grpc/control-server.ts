// The master's gRPC control service: enrollment (token + CSR → certificate), renewal, and each worker's session.
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { AppError } from '../../core/errors.js';
import type { Inventory, WorkerRecord } from '../../core/workers.js';
import type { InventoryChange, ResourceKind } from '../../core/inventory.js';
import type { MasterStore } from '../../core/ports.js';
import { RateLimiter } from '../../core/rate-limiter.js';
import {
  ControlServiceService,
  ResourceKind as ProtoResourceKind,
  type ConnectRequest,
  type ConnectResponse,
  type ControlServiceServer,
  type EnrollRequest,
  type EnrollResponse,
  type RenewRequest,
  type RenewResponse,
} from '../../gen/dockation/v1/control.js';
import {
  CONTROL_SERVER_OPTIONS,
  MutableCertificateProvider,
  grpcBindAddress,
  peerHost,
  toGrpcError,
} from '../../platform/grpc-support.js';
import type { Logger } from '../../platform/logger.js';
import { signCsr } from '../../platform/pki.js';
import { createFailedEnrollmentAudit, enrolledSummary } from './enrollment-audit.js';
import { authenticatePeer } from './peer-auth.js';
import { createPreAuthGate, type PreAuthLimits } from './pre-auth-gate.js';
import { newId } from '../../platform/secrets.js';
import { workerUri } from '../../platform/trust-names.js';
import type { MasterTls } from '../master-identity.js';
import type { CommandDispatcher } from '../command-dispatcher.js';
import type { WorkerRegistry, WorkerSession } from '../worker-registry.js';

/**
 * What this master holds while it leads: the workers' sessions and commands belong to one leadership term, so that
 * a master that stops leading ends them instead of sending commands a newer leader does not know about.
 */
export interface ControlTerm {
  /** The lease's epoch (0: a master without high availability); welcomes, beats and commands carry it. */
  epoch: number;
  registry: WorkerRegistry;
  dispatcher: CommandDispatcher;
  /** Whether a presented token may enroll: the current enrollment token or a live pairing code. */
  acceptEnrollmentToken(token: string): Promise<boolean>;
}

export interface ControlServerOptions {
  address: string;
  tls: MasterTls;
  store: MasterStore;
  /**
   * The term this master leads in now, or undefined when it does not lead (a standby). Read at every call and
   * checked on every session's heartbeat tick and message: a session ends when its term is no longer the current one.
   */
  term: () => ControlTerm | undefined;
  /** The leader's gRPC address (host:port) workers should dial, when known; named in a standby's refusals. */
  leaderAddress: () => string | undefined;
  /** Other services sharing the port (the transfer relay). */
  extraServices?: Array<{
    definition: grpc.ServiceDefinition;
    implementation: grpc.UntypedServiceImplementation;
  }>;
  logger: Logger;
  /** How often sessions are checked against the term and beat (MasterBeat); workers send their heartbeats as often. */
  heartbeatIntervalMs: number;
  inventoryIntervalMs: number;
  /** Lifetime of worker certificates; workers renew when a third of it remains. */
  certificateValidityDays?: number;
  /** How long a new session may take to say hello. */
  helloTimeoutMs?: number;
  /** What callers without a certificate may send (enrollment); defaults in DEFAULT_PRE_AUTH_LIMITS. */
  preAuthLimits?: Partial<PreAuthLimits>;
  /** Failed enrollments are summed up in one audit row per window of this length (default one minute). */
  failedEnrollmentAuditWindowMs?: number;
}

export interface ControlServer {
  /** The bound address, with the real port when 0 was asked. */
  address: string;
  port: number;
  close(): Promise<void>;
}

const KINDS: Record<number, ResourceKind | undefined> = {
  [ProtoResourceKind.RESOURCE_KIND_CONTAINER]: 'container',
  [ProtoResourceKind.RESOURCE_KIND_IMAGE]: 'image',
  [ProtoResourceKind.RESOURCE_KIND_VOLUME]: 'volume',
  [ProtoResourceKind.RESOURCE_KIND_NETWORK]: 'network',
};

function parseList<T>(json: string, what: string): T[] {
  const value: unknown = json ? JSON.parse(json) : [];
  if (!Array.isArray(value)) throw new AppError('invalid_argument', `inventory ${what} must be a JSON array`);
  return value as T[];
}

/**
 * The refusal of a master that does not lead (or no longer leads a session's term). `unavailable`: the worker tries
 * again, at the leader named in the details when one is known.
 */
export function notLeaderError(leader: string | undefined): AppError {
  return leader
    ? new AppError('unavailable', `this master does not lead; the leader is at ${leader}`, {
        reason: 'not_leader',
        details: { leader },
      })
    : new AppError('unavailable', 'no master leads right now', { reason: 'not_leader' });
}

/** Adapts an async handler to grpc-js's callback style, answering its failure as a gRPC status. */
function unary<Request, Response>(
  handler: (call: grpc.ServerUnaryCall<Request, Response>) => Promise<Response>,
): grpc.handleUnaryCall<Request, Response> {
  return (call, callback) => {
    handler(call).then(
      (response) => {
        callback(null, response);
      },
      (error: unknown) => {
        callback(toGrpcError(error));
      },
    );
  };
}

/** Starts the control service on `options.address` over TLS (client certificates requested, not required). */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { tls, store, logger } = options;
  const validityDays = options.certificateValidityDays ?? 90;
  const enrollLimiter = new RateLimiter({ burst: 10, perMinute: 10 });
  const enrolling = new Set<string>();
  const failedEnrollments = createFailedEnrollmentAudit({
    store,
    ...(options.failedEnrollmentAuditWindowMs === undefined
      ? {}
      : { windowMs: options.failedEnrollmentAuditWindowMs }),
    onError: (error) => {
      logger.warn({ err: error }, 'cannot record failed enrollments in the audit log');
    },
  });
  // Enrollment is the only call without a client certificate; the gate keeps it small and few (see there).
  const gate = createPreAuthGate({
    allowedPaths: new Set([ControlServiceService.enroll.path]),
    ...(options.preAuthLimits ? { limits: options.preAuthLimits } : {}),
  });
  const server = new grpc.Server({ ...CONTROL_SERVER_OPTIONS, interceptors: [gate.interceptor] });
  const caCertificate = new X509Certificate(tls.ca.certPem);
  const sessions = new Set<grpc.ServerDuplexStream<ConnectRequest, ConnectResponse>>();

  /** The current term, or the not_leader refusal naming the leader when known. */
  function requireTerm(): ControlTerm {
    const term = options.term();
    if (!term) throw notLeaderError(options.leaderAddress());
    return term;
  }

  async function enroll(call: grpc.ServerUnaryCall<EnrollRequest, EnrollResponse>): Promise<EnrollResponse> {
    // A standby refuses before anything else: the worker moves on to the leader, and no attempt is charged.
    const term = requireTerm();
    const { registry } = term;
    const remote = peerHost(call.getPeer());
    // Only failed attempts are charged: a fleet enrolling from behind one NAT address is not slowed down, while
    // guessing tokens or pairing codes is (10 misses, then one try per 6 s).
    if (!enrollLimiter.allows(remote)) {
      failedEnrollments.record(remote, 'rate limited');
      throw new AppError(
        'unavailable',
        'too many failed enrollment attempts from this address; wait a minute',
      );
    }
    const request = call.request;
    if (!request.token || !(await term.acceptEnrollmentToken(request.token))) {
      enrollLimiter.take(remote);
      logger.warn({ remote }, 'enrollment refused: wrong token');
      failedEnrollments.record(remote, 'wrong token');
      throw new AppError('permission_denied', 'the enrollment token is not valid', {
        hint: 'copy the current join command from the master (GET /api/enrollment-token or the web UI)',
      });
    }
    const name = request.name.trim();
    if (!name || name.length > 128)
      throw new AppError('invalid_argument', 'a worker name of 1 to 128 characters is required');
    const taken = registry.findByName(name);
    if (taken || enrolling.has(name)) {
      throw new AppError(
        'conflict',
        `a worker named "${name}" is already enrolled${taken ? ` (id ${taken.id})` : ''}`,
        {
          hint: 'remove it on the master first, or start this worker with another --name',
        },
      );
    }
    // Held until the worker is in the registry, so that two hosts enrolling one name at once cannot both succeed.
    enrolling.add(name);
    try {
      return await admit(term, name, request, remote);
    } finally {
      enrolling.delete(name);
    }
  }

  async function admit(
    { registry }: ControlTerm,
    name: string,
    request: EnrollRequest,
    remote: string,
  ): Promise<EnrollResponse> {
    const workerId = newId('w');
    const issued = await signCsr(tls.ca, request.csrPem, {
      commonName: workerId,
      validityDays,
      usage: 'client-server',
      uris: [workerUri(workerId)],
    });
    const now = new Date().toISOString();
    const worker: WorkerRecord = {
      id: workerId,
      name,
      hostname: request.hostname,
      labels: request.labels,
      version: request.version,
      advertiseAddress: '',
      dockerVersion: '',
      enrolledAt: now,
      lastSeenAt: null,
      system: null,
      activeTasks: 0,
      revokedAt: null,
    };
    await store.insertWorker(worker);
    try {
      await store.insertCertificate({
        serial: issued.serial,
        workerId,
        notBefore: issued.notBefore.toISOString(),
        notAfter: issued.notAfter.toISOString(),
        revokedAt: null,
      });
    } catch (error) {
      // No worker without its certificate: the half-made one is revoked (rows are never deleted).
      await store.revokeWorker(workerId, new Date().toISOString()).catch(() => undefined);
      throw error;
    }
    await store.appendAudit({
      at: now,
      actor: `worker:${workerId}`,
      action: 'worker.enroll',
      target: workerId,
      outcome: 'ok',
      status: 0,
      details: { name, hostname: request.hostname },
      remoteAddress: remote,
      summary: enrolledSummary(name, request.hostname),
    });
    registry.enrolled(worker);
    logger.info({ workerId, name, remote }, 'worker enrolled');
    return { workerId, certificatePem: issued.certPem, caCertificatePem: tls.ca.certPem };
  }

  async function renew(call: grpc.ServerUnaryCall<RenewRequest, RenewResponse>): Promise<RenewResponse> {
    const { registry } = requireTerm();
    const { workerId } = await authenticatePeer(call, caCertificate, store);
    const issued = await signCsr(tls.ca, call.request.csrPem, {
      commonName: workerId,
      validityDays,
      usage: 'client-server',
      uris: [workerUri(workerId)],
    });
    await store.insertCertificate({
      serial: issued.serial,
      workerId,
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      revokedAt: null,
    });
    // A removal may have come while the certificate was being signed. Checked after the row exists: a removal
    // committed later revokes this row with the others; one committed earlier is seen here.
    const worker = await store.getWorker(workerId);
    if (!worker || worker.revokedAt) {
      await store.revokeWorker(workerId, new Date().toISOString());
      registry.certificateRevoked(workerId, issued.serial, issued.notAfter.toISOString());
      logger.warn({ workerId, serial: issued.serial }, 'renewal refused: the worker was removed meanwhile');
      throw new AppError('permission_denied', 'this worker was removed from the master', {
        hint: 'enroll it again with a new token to bring it back',
      });
    }
    logger.info({ workerId, serial: issued.serial }, 'worker certificate renewed');
    return { certificatePem: issued.certPem };
  }

  function connect(call: grpc.ServerDuplexStream<ConnectRequest, ConnectResponse>): void {
    // The session belongs to the term it starts in. Callers without a certificate never get here (the gate).
    const term = options.term();
    if (!term) {
      call.emit('error', toGrpcError(notLeaderError(options.leaderAddress())));
      return;
    }
    const { registry, dispatcher, epoch } = term;
    sessions.add(call);
    let workerId: string | undefined;
    let welcomed = false;
    let ended = false;
    const session: WorkerSession = {
      close(reason) {
        if (ended) return;
        ended = true;
        // grpc-js turns an 'error' event on a server stream into the call's status (destroy() would send none).
        call.emit('error', toGrpcError(reason));
      },
      sendCommand(command) {
        if (!ended) call.write({ body: { $case: 'command', value: command } });
      },
      cancelCommand(id) {
        if (!ended) call.write({ body: { $case: 'cancelCommand', value: { id } } });
      },
      sendRevocations(revocations, complete) {
        if (!ended) call.write({ body: { $case: 'revocations', value: { complete, ...revocations } } });
      },
    };
    /** Ends the session once its term is no longer the current one; answers whether it still holds. */
    const termHolds = (): boolean => {
      if (ended) return false;
      if (options.term() === term) return true;
      logger.info({ workerId, epoch }, 'ending a worker session: this master no longer leads its term');
      session.close(notLeaderError(options.leaderAddress()));
      return false;
    };
    // Every interval: the term still holds, and the worker hears that this master is alive and leads.
    const beat = setInterval(() => {
      if (termHolds() && welcomed) call.write({ body: { $case: 'masterBeat', value: { epoch } } });
    }, options.heartbeatIntervalMs);
    beat.unref();
    const finish = (reason: string): void => {
      clearInterval(beat);
      sessions.delete(call);
      dispatcher.sessionEnded(session, reason);
      if (workerId) registry.detach(workerId, session, reason);
    };
    call.on('error', (error) => {
      finish(error.message);
    });
    call.on('end', () => {
      if (!ended) {
        ended = true;
        call.end();
      }
      finish('stream ended');
    });
    call.on('close', () => {
      finish('stream closed');
    });
    const helloTimer = setTimeout(() => {
      session.close(new AppError('deadline_exceeded', 'no hello within the allowed time'));
    }, options.helloTimeoutMs ?? 15_000);

    const authenticated = authenticatePeer(call, caCertificate, store);
    authenticated.catch((error: unknown) => {
      clearTimeout(helloTimer);
      logger.warn({ peer: call.getPeer(), err: error }, 'control stream refused');
      session.close(AppError.from(error));
    });

    // Messages are handled one at a time, in order; a failure ends the session.
    let queue: Promise<void> = Promise.resolve();
    call.on('data', (message: ConnectRequest) => {
      if (!termHolds()) return;
      queue = queue
        .then(async () => {
          if (ended) return;
          const identity = await authenticated;
          await handle(identity.workerId, message);
        })
        .catch((error: unknown) => {
          logger.warn({ workerId, err: error }, 'control stream message refused');
          session.close(AppError.from(error));
        });
    });

    async function handle(id: string, message: ConnectRequest): Promise<void> {
      const body = message.body;
      if (!body) return;
      if (workerId === undefined && body.$case !== 'hello') {
        throw new AppError('failed_precondition', 'the first message of a session must be a hello');
      }
      switch (body.$case) {
        case 'hello': {
          clearTimeout(helloTimer);
          const hello = body.value;
          const view = await registry.attach(
            id,
            {
              name: hello.name,
              hostname: hello.hostname,
              labels: hello.labels,
              version: hello.version,
              advertiseAddress: hello.advertiseAddress,
              dockerVersion: hello.dockerVersion,
            },
            session,
          );
          workerId = id;
          logger.info({ workerId: id, name: view.name, peer: call.getPeer() }, 'worker connected');
          if (hello.name && hello.name !== view.name)
            logger.warn(
              { workerId: id, name: view.name, helloName: hello.name },
              `worker ${id} calls itself "${hello.name}" but was enrolled as "${view.name}": the name is kept`,
            );
          call.write({
            body: {
              $case: 'welcome',
              value: {
                workerId: id,
                heartbeatIntervalMs: options.heartbeatIntervalMs,
                inventoryIntervalMs: options.inventoryIntervalMs,
                name: view.name,
                epoch,
              },
            },
          });
          welcomed = true;
          // Before any command: the worker's transfer service refuses removed peers from its first transfer.
          session.sendRevocations?.(registry.revocations(), true);
          return;
        }
        case 'heartbeat': {
          const system = body.value.system;
          registry.heartbeat(id, {
            activeTasks: body.value.activeTasks,
            system: system
              ? {
                  cpuPercent: system.cpuPercent,
                  cpus: system.cpus,
                  memoryTotalBytes: system.memoryTotalBytes,
                  memoryUsedBytes: system.memoryUsedBytes,
                  dockerRootFreeBytes: system.dockerRootFreeBytes,
                }
              : null,
          });
          return;
        }
        case 'inventory': {
          const snapshot = body.value;
          const inventory: Inventory = {
            containers: parseList(snapshot.containersJson, 'containers'),
            images: parseList(snapshot.imagesJson, 'images'),
            volumes: parseList(snapshot.volumesJson, 'volumes'),
            networks: parseList(snapshot.networksJson, 'networks'),
          };
          registry.snapshot(id, snapshot.sequence, inventory);
          return;
        }
        case 'inventoryDelta': {
          const changes: InventoryChange[] = [];
          for (const change of body.value.changes) {
            const kind = KINDS[change.kind];
            if (!kind) continue;
            changes.push(
              change.itemJson
                ? { kind, key: change.key, item: JSON.parse(change.itemJson) as InventoryChange['item'] }
                : { kind, key: change.key },
            );
          }
          registry.delta(id, body.value.sequence, changes);
          return;
        }
        case 'commandResult':
          dispatcher.result(id, body.value);
          return;
        case 'commandProgress':
          dispatcher.progress(id, body.value);
          return;
        default:
          return;
      }
    }
  }

  const implementation: ControlServiceServer = {
    enroll: unary(enroll),
    renew: unary(renew),
    connect,
  };
  server.addService(ControlServiceService, implementation);
  for (const extra of options.extraServices ?? []) server.addService(extra.definition, extra.implementation);

  const provider = new MutableCertificateProvider();
  provider.setCa(tls.ca.certPem);
  // The chain carries the CA, so that a new worker can check it against --ca-hash before trusting anything.
  provider.setIdentity(`${tls.serverCertPem.trim()}\n${tls.ca.certPem.trim()}\n`, tls.serverKeyPem);
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, provider, false);
  const bind = grpcBindAddress(options.address);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(bind, credentials, (error, boundPort) => {
      if (error) {
        reject(
          new AppError('unavailable', `cannot listen for gRPC on ${options.address}: ${error.message}`, {
            cause: error,
          }),
        );
      } else {
        resolve(boundPort);
      }
    });
  });
  const address = bind.replace(/:\d+$/, `:${port}`);
  gate.watch(server);
  logger.info({ address }, 'gRPC control service listening');

  return {
    address,
    port,
    async close() {
      for (const call of sessions)
        call.destroy(toGrpcError(new AppError('unavailable', 'the master is shutting down')));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 3_000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      await failedEnrollments.flush().catch((error: unknown) => {
        logger.warn({ err: error }, 'cannot record failed enrollments in the audit log');
      });
    },
  };
}
