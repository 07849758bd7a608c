// The worker's side of the control plane: one stream to the leading master, kept up with backoff and full jitter
// across the masters it knows, carrying hello, heartbeats and inventory; fencing of masters that no longer lead;
// certificate renewal before expiry.
import * as grpc from '@grpc/grpc-js';
import { Backoff } from '../core/backoff.js';
import { AppError } from '../core/errors.js';
import type { InventoryChange } from '../core/inventory.js';
import type { DockerEngine } from '../core/ports.js';
import {
  ControlServiceClient,
  ResourceKind as ProtoResourceKind,
  type ConnectRequest,
  type ConnectResponse,
  type Revocations,
  type Welcome,
} from '../gen/dockation/v1/control.js';
import { fromGrpcError } from '../platform/grpc-support.js';
import type { Logger } from '../platform/logger.js';
import { certificateInfo, createKeyAndCsr } from '../platform/pki.js';
import { masterChannelCredentials, masterChannelOptions } from './enroll.js';
import { EpochFence } from './epoch-fence.js';
import { leaderReferral } from './master-address.js';
import { isWorkerCommandKind, type CommandArgs, type WorkerCommandKind } from '../core/worker-commands.js';
import type { Command } from '../gen/dockation/v1/control.js';
import type { CommandExecutor } from './command-executor.js';
import { InventoryTracker, type InventorySink } from './inventory-tracker.js';
import { SystemFigures } from './system-figures.js';
import { saveWorkerIdentity, type WorkerIdentity } from './worker-identity.js';
import { sleep } from '../platform/sleep.js';

export interface WorkerHello {
  name: string;
  hostname: string;
  labels: Record<string, string>;
  version: string;
  advertiseAddress: string;
}

export interface ControlLoopOptions {
  identity: WorkerIdentity;
  /** Where renewed certificates are saved. */
  identityDir: string;
  engine: DockerEngine;
  /** Runs the master's commands; without one, commands are refused. */
  executor?: CommandExecutor;
  hello: WorkerHello;
  logger: Logger;
  reconnectIntervalMs: number;
  maxReconnectIntervalMs: number;
  /** Aborting ends the loop cleanly. */
  signal: AbortSignal;
  /** Called each time a session is established, with the master's address (for tests, readiness and the relay). */
  onConnected?: (welcome: Welcome, master: string) => void;
  /** Called once a renewed certificate is saved, so that every server of this worker presents it. */
  onRenewed?: (identity: WorkerIdentity) => void;
  /** The master's list of removed workers (whole, or additions), which the transfer service must refuse. */
  onRevocations?: (revocations: Revocations) => void;
}

const PROTO_KIND: Record<InventoryChange['kind'], ProtoResourceKind> = {
  container: ProtoResourceKind.RESOURCE_KIND_CONTAINER,
  image: ProtoResourceKind.RESOURCE_KIND_IMAGE,
  volume: ProtoResourceKind.RESOURCE_KIND_VOLUME,
  network: ProtoResourceKind.RESOURCE_KIND_NETWORK,
};

/** How often a connected worker checks whether its certificate is due for renewal. */
const RENEWAL_CHECK_MS = 6 * 3600_000;

/** The least time without a word from the master after which the worker drops the stream (a frozen master). */
const MIN_SILENCE_MS = 10_000;

/** How long a master may stay silent: three beats missed, and never less than MIN_SILENCE_MS. */
export function silenceLimitMs(heartbeatIntervalMs: number): number {
  return Math.max(3 * heartbeatIntervalMs, MIN_SILENCE_MS);
}

/** Refusals no retry can fix: the master does not (or no longer) accept this worker's certificate. */
function isPermanent(error: AppError): boolean {
  return error.code === 'permission_denied' || error.code === 'unauthenticated';
}

/** Reads the flag afresh (TypeScript would otherwise keep an earlier check's narrowing across awaits). */
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** True when less than a third of the certificate's lifetime remains. */
export function needsRenewal(certPem: string, now = new Date()): boolean {
  const info = certificateInfo(certPem);
  const lifetime = info.notAfter.getTime() - info.notBefore.getTime();
  return info.notAfter.getTime() - now.getTime() < lifetime / 3;
}

/**
 * Which master to dial next: the known ones in turn, or right away the leader a standby named (once in a row, so
 * that two masters naming each other cannot spin the worker).
 */
class MasterRotation {
  private index = 0;
  private referred = false;
  current: string;

  constructor(private readonly masters: readonly string[]) {
    this.current = masters[0] ?? '';
  }

  /** Moves on after a failure; answers whether the next master is a named leader to dial without waiting. */
  next(failure: AppError | undefined): boolean {
    const leader = failure ? leaderReferral(failure) : undefined;
    if (leader && leader.target !== this.current && !this.referred) {
      this.current = leader.target;
      this.referred = true;
      return true;
    }
    this.referred = false;
    this.index = (this.index + 1) % Math.max(1, this.masters.length);
    this.current = this.masters[this.index] ?? this.current;
    return false;
  }
}

/**
 * Runs until `signal` aborts (resolves) or the master refuses this worker for good (rejects with the reason).
 * Every other failure — master down, network gone, a standby, a master gone silent — is retried with exponential
 * backoff and full jitter at the next master of the identity's list (at once at a leader a standby names), always
 * with the same identity.
 */
export async function runControlLoop(options: ControlLoopOptions): Promise<void> {
  const { logger, signal } = options;
  const backoff = new Backoff({
    initialMs: options.reconnectIntervalMs,
    maxMs: options.maxReconnectIntervalMs,
  });
  let identity = options.identity;
  const masters = new MasterRotation(identity.masterUrls);
  const fence = new EpochFence();
  const { credentials, provider } = masterChannelCredentials(identity.caPem, identity);
  // A fresh channel per attempt: our backoff, not the channel's own (up to minutes), decides when to retry.
  let client = new ControlServiceClient(masters.current, credentials, masterChannelOptions());
  const figures = new SystemFigures(
    await options.engine.info().then(
      (info) => info.dockerRootDir,
      () => undefined,
    ),
  );

  async function renewIfDue(): Promise<void> {
    if (!needsRenewal(identity.certPem)) return;
    const { keyPem, csrPem } = await createKeyAndCsr({ commonName: identity.workerId });
    const answer = await new Promise<{ certificatePem: string }>((resolve, reject) => {
      client.renew({ csrPem }, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (error, response) => {
        if (error) reject(fromGrpcError(error, 'certificate renewal failed'));
        else resolve(response);
      });
    });
    identity = { ...identity, keyPem, certPem: answer.certificatePem };
    saveWorkerIdentity(options.identityDir, identity);
    provider.setIdentity(identity.certPem, identity.keyPem);
    options.onRenewed?.(identity);
    logger.info({ notAfter: certificateInfo(identity.certPem).notAfter }, 'worker certificate renewed');
  }

  // Long-lived sessions renew too: the check runs at every connection and every few hours.
  const renewTimer = setInterval(() => {
    renewIfDue().catch((error: unknown) => {
      logger.warn({ err: error }, 'cannot renew the worker certificate yet; will try again');
    });
  }, RENEWAL_CHECK_MS);
  try {
    while (!signal.aborted) {
      let established = false;
      let failure: AppError | undefined;
      try {
        await runSession(client, masters.current, fence, options, figures, () => {
          established = true;
          backoff.reset();
          renewIfDue().catch((error: unknown) => {
            logger.warn({ err: error }, 'cannot renew the worker certificate yet; will try again');
          });
        });
        if (isAborted(signal)) break;
        logger.warn({ master: masters.current }, 'the master closed the control stream; reconnecting');
      } catch (error) {
        failure = AppError.from(error);
        if (isAborted(signal)) break;
        if (isPermanent(failure)) throw failure;
        logger.warn(
          { err: failure, established, master: masters.current },
          `lost the master: ${failure.message}`,
        );
      }
      const referred = masters.next(failure);
      const delay = referred ? 0 : backoff.next();
      logger.info(
        { delayMs: delay, attempt: backoff.attempts, master: masters.current },
        referred ? 'connecting to the leader the master named' : 'reconnecting to the master',
      );
      await sleep(delay, signal);
      client.close();
      client = new ControlServiceClient(masters.current, credentials, masterChannelOptions());
    }
  } finally {
    clearInterval(renewTimer);
    client.close();
  }
}

/**
 * One control session with the master at `master`; resolves when the master ends it, rejects on a stream error, a
 * master older than `fence` allows, or a master gone silent.
 */
async function runSession(
  client: ControlServiceClient,
  master: string,
  fence: EpochFence,
  options: ControlLoopOptions,
  figures: SystemFigures,
  onWelcome: () => void,
): Promise<void> {
  const { engine, logger, signal } = options;
  const session = new AbortController();
  const stopSession = (): void => {
    session.abort();
  };
  signal.addEventListener('abort', stopSession, { once: true });
  const engineVersion = await engine.version().catch(() => undefined);
  // Handlers are attached in the same tick as the call is made: an 'error' without a listener would crash.
  const call = client.connect();
  call.on('error', () => undefined);
  const timers: ReturnType<typeof setInterval>[] = [];
  const tracker = new InventoryTracker({ engine, logger });

  const send = (message: ConnectRequest): void => {
    if (!session.signal.aborted) call.write(message);
  };
  const sink: InventorySink = {
    snapshot(sequence, inventory) {
      send({
        body: {
          $case: 'inventory',
          value: {
            sequence,
            containersJson: JSON.stringify(inventory.containers),
            imagesJson: JSON.stringify(inventory.images),
            volumesJson: JSON.stringify(inventory.volumes),
            networksJson: JSON.stringify(inventory.networks),
          },
        },
      });
    },
    delta(sequence, changes) {
      send({
        body: {
          $case: 'inventoryDelta',
          value: {
            sequence,
            changes: changes.map((change) => ({
              kind: PROTO_KIND[change.kind],
              key: change.key,
              itemJson: change.item ? JSON.stringify(change.item) : '',
            })),
          },
        },
      });
    },
  };
  const snapshot = (): void => {
    tracker.snapshot(sink).catch((error: unknown) => {
      logger.warn({ err: error }, 'cannot list the engine for the inventory');
    });
  };
  // Commands of this session; they end with it, since their results could no longer reach the master.
  const running = new Map<string, AbortController>();
  const runCommand = (command: Command): void => {
    const controller = new AbortController();
    running.set(command.id, controller);
    const stop = (): void => {
      controller.abort();
    };
    session.signal.addEventListener('abort', stop, { once: true });
    const started = Date.now();
    (async () => {
      // Before anything runs: a command from a master that no longer leads is refused unrun.
      fence.admitCommand(command.epoch);
      if (!options.executor) throw new AppError('failed_precondition', 'this worker runs no commands');
      if (!isWorkerCommandKind(command.kind))
        throw new AppError('invalid_argument', `unknown command "${command.kind}" (is this worker older?)`);
      const kind: WorkerCommandKind = command.kind;
      const args = JSON.parse(command.argsJson || '{}') as CommandArgs<typeof kind>;
      const { executor } = options;
      return fence.runInOrder(command.epoch, () =>
        executor.run(kind, args, {
          signal: controller.signal,
          progress: (report) => {
            send({ body: { $case: 'commandProgress', value: { id: command.id, ...report } } });
          },
        }),
      );
    })()
      .then(
        (result) => {
          logger.debug({ command: command.kind, id: command.id, ms: Date.now() - started }, 'command done');
          send({
            body: {
              $case: 'commandResult',
              value: {
                id: command.id,
                ok: true,
                resultJson: JSON.stringify(result),
                errorCode: '',
                errorMessage: '',
                errorReason: '',
                errorDetailsJson: '',
              },
            },
          });
        },
        (error: unknown) => {
          const appError = AppError.from(error);
          logger.warn(
            { command: command.kind, id: command.id, err: appError },
            `command failed: ${appError.message}`,
          );
          send({
            body: {
              $case: 'commandResult',
              value: {
                id: command.id,
                ok: false,
                resultJson: '',
                errorCode: appError.code,
                errorMessage: appError.message,
                errorReason: appError.reason ?? '',
                errorDetailsJson: detailsJson(appError.details),
              },
            },
          });
        },
      )
      .finally(() => {
        running.delete(command.id);
        session.signal.removeEventListener('abort', stop);
      });
  };

  const heartbeat = (): void => {
    figures.read().then(
      (system) => {
        send({
          body: { $case: 'heartbeat', value: { sentAtMs: Date.now(), activeTasks: running.size, system } },
        });
      },
      (error: unknown) => {
        logger.warn({ err: error }, 'cannot read system figures');
      },
    );
  };

  async function followEvents(): Promise<void> {
    while (!session.signal.aborted) {
      try {
        for await (const event of engine.events({ signal: session.signal })) tracker.noteEvent(event, sink);
      } catch (error) {
        if (isAborted(session.signal)) return;
        logger.warn({ err: error }, 'lost the Docker engine event stream; retrying');
        await sleep(2_000, session.signal);
        // Events may have been missed meanwhile.
        snapshot();
      }
    }
  }

  let silence: ReturnType<typeof setTimeout> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let welcomed = false;
      const helloTimer = setTimeout(() => {
        reject(new AppError('deadline_exceeded', 'the master did not answer the hello within 15 s'));
        call.cancel();
      }, 15_000);
      const fail = (error: AppError): void => {
        reject(error);
        call.cancel();
      };
      // Watched once the master is known to beat: from the welcome of a leader with an epoch, else from its first
      // beat (a master without high availability may predate beats, and then says nothing between commands).
      let silenceLimit: number | undefined;
      const heard = (): void => {
        if (silenceLimit === undefined) return;
        const limit = silenceLimit;
        clearTimeout(silence);
        silence = setTimeout(() => {
          fail(
            new AppError(
              'unavailable',
              `the master at ${master} sent nothing for ${limit / 1000} s (stopped or cut off?)`,
            ),
          );
        }, limit);
      };
      let heartbeatIntervalMs = 0;
      call.on('data', (message: ConnectResponse) => {
        const body = message.body;
        if (!body) return;
        heard();
        if (body.$case === 'welcome') {
          clearTimeout(helloTimer);
          const welcome = body.value;
          if (!fence.admit(welcome.epoch)) {
            fail(fence.staleMaster(master, welcome.epoch));
            return;
          }
          welcomed = true;
          heartbeatIntervalMs = welcome.heartbeatIntervalMs;
          if (welcome.epoch > 0) {
            silenceLimit = silenceLimitMs(heartbeatIntervalMs);
            heard();
          }
          logger.info(
            { workerId: welcome.workerId, master, epoch: welcome.epoch },
            'connected to the master',
          );
          if (welcome.name && welcome.name !== options.hello.name)
            logger.warn(
              { name: welcome.name, configured: options.hello.name },
              `this worker was enrolled as "${welcome.name}"; the name is fixed at enrollment, so "${options.hello.name}" is ignored`,
            );
          timers.push(setInterval(heartbeat, Math.max(1_000, welcome.heartbeatIntervalMs)));
          timers.push(setInterval(snapshot, Math.max(5_000, welcome.inventoryIntervalMs)));
          heartbeat();
          snapshot();
          followEvents().catch((error: unknown) => {
            logger.warn({ err: error }, 'event follower stopped');
          });
          onWelcome();
          options.onConnected?.(welcome, master);
        } else if (body.$case === 'masterBeat') {
          if (!fence.admit(body.value.epoch)) {
            fail(fence.staleMaster(master, body.value.epoch));
            return;
          }
          if (silenceLimit === undefined) {
            silenceLimit = silenceLimitMs(heartbeatIntervalMs);
            heard();
          }
        } else if (body.$case === 'command') {
          runCommand(body.value);
        } else if (body.$case === 'cancelCommand') {
          running.get(body.value.id)?.abort();
        } else if (body.$case === 'revocations') {
          options.onRevocations?.(body.value);
        } else {
          snapshot();
        }
      });
      call.on('error', (error) => {
        clearTimeout(helloTimer);
        clearTimeout(silence);
        if (signal.aborted) resolve();
        else
          reject(
            fromGrpcError(error, welcomed ? 'the control stream broke' : 'the master refused the connection'),
          );
      });
      call.on('end', () => {
        clearTimeout(helloTimer);
        clearTimeout(silence);
        resolve();
      });
      session.signal.addEventListener('abort', () => {
        call.cancel();
      });
      call.write({
        body: {
          $case: 'hello',
          value: {
            ...options.hello,
            dockerVersion: engineVersion?.version ?? '',
            dockerApiVersion: engineVersion?.apiVersion ?? '',
          },
        },
      });
    });
  } finally {
    clearTimeout(silence);
    for (const timer of timers) clearInterval(timer);
    tracker.stop();
    session.abort();
    signal.removeEventListener('abort', stopSession);
    call.end();
  }
}

/** An error's details for the wire: a JSON object, or empty when there are none or they do not serialise. */
function detailsJson(details: Record<string, unknown> | undefined): string {
  if (details === undefined) return '';
  try {
    return JSON.stringify(details);
  } catch {
    return '';
  }
}
