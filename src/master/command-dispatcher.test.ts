// Commands the master runs on its workers: each settled once, by its own worker's answer, a timeout, an abort or
// the end of the session that carried it. Over a real registry on in-memory SQLite and recording sessions.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { sampleWorker } from '../core/testing/sample-resources.js';
import { CommandDispatcher } from './command-dispatcher.js';
import { openSqliteMasterStore, type SqlMasterStore } from './store/sql-master-store.js';
import { WorkerRegistry, type HelloInfo, type WorkerSession } from './worker-registry.js';

const ALPHA = 'w-aaaaaaaaaaaa';
const BETA = 'w-bbbbbbbbbbbb';
const GAMMA = 'w-cccccccccccc';
/** The leader's epoch the dispatcher sends for. */
const EPOCH = 7;

interface SentCommand {
  id: string;
  kind: string;
  argsJson: string;
  deadlineMs: number;
  epoch: number;
}

class RecordingSession implements WorkerSession {
  readonly commands: SentCommand[] = [];
  readonly cancelled: string[] = [];
  close(): void {
    // The dispatcher never closes sessions.
  }
  sendCommand(command: SentCommand): void {
    this.commands.push(command);
  }
  cancelCommand(id: string): void {
    this.cancelled.push(id);
  }
  /** The id of the only (or last) command sent. */
  get lastId(): string {
    const last = this.commands.at(-1);
    if (!last) throw new Error('no command was sent');
    return last.id;
  }
}

function hello(name: string): HelloInfo {
  return {
    name,
    hostname: `${name}.example`,
    labels: {},
    version: '0.1.0',
    advertiseAddress: `${name}.example:7443`,
    dockerVersion: '27.3.1',
  };
}

function ok(id: string, result: unknown): Parameters<CommandDispatcher['result']>[1] {
  return { id, ok: true, resultJson: JSON.stringify(result), errorCode: '', errorMessage: '' };
}

function failed(
  id: string,
  errorCode: string,
  errorMessage: string,
): Parameters<CommandDispatcher['result']>[1] {
  return { id, ok: false, resultJson: '', errorCode, errorMessage };
}

async function failureOf(work: Promise<unknown>): Promise<AppError> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a failure');
}

let store: SqlMasterStore;
let registry: WorkerRegistry;
let alpha: RecordingSession;
let beta: RecordingSession;
let outcomes: Array<[string, 'ok' | 'error']>;
let dispatcher: CommandDispatcher;

beforeEach(async () => {
  store = await openSqliteMasterStore({ path: ':memory:' });
  await store.insertWorker(sampleWorker({ id: ALPHA, name: 'alpha' }));
  await store.insertWorker(sampleWorker({ id: BETA, name: 'beta' }));
  await store.insertWorker(sampleWorker({ id: GAMMA, name: 'gamma' }));
  registry = await WorkerRegistry.load({ store, workerTimeoutMs: 60_000 });
  alpha = new RecordingSession();
  beta = new RecordingSession();
  await registry.attach(ALPHA, hello('alpha'), alpha);
  await registry.attach(BETA, hello('beta'), beta);
  outcomes = [];
  dispatcher = new CommandDispatcher(registry, EPOCH, (kind, outcome) => outcomes.push([kind, outcome]));
});

afterEach(async () => {
  dispatcher.closeAll('test over');
  await store.close();
});

describe('CommandDispatcher', () => {
  it('sends the command, stamped with the leader’s epoch, down the worker’s session and resolves with its answer', async () => {
    const before = Date.now();
    const running = dispatcher.run(
      ALPHA,
      'container.stop',
      { ref: 'web', timeoutSeconds: 10 },
      { timeoutMs: 5000 },
    );

    expect(alpha.commands).toHaveLength(1);
    const [sent] = alpha.commands;
    expect(sent).toMatchObject({ kind: 'container.stop', epoch: EPOCH });
    expect(JSON.parse(sent!.argsJson)).toEqual({ ref: 'web', timeoutSeconds: 10 });
    expect(sent!.deadlineMs).toBeGreaterThanOrEqual(before + 5000);
    expect(sent!.deadlineMs).toBeLessThanOrEqual(Date.now() + 5000);
    expect(beta.commands).toEqual([]);
    expect(dispatcher.outstanding).toBe(1);

    dispatcher.result(ALPHA, ok(sent!.id, { wasRunning: true }));

    expect(await running).toEqual({ wasRunning: true });
    expect(dispatcher.outstanding).toBe(0);
    expect(outcomes).toEqual([['container.stop', 'ok']]);
  });

  it('routes answers by command id, whatever order they come in', async () => {
    const first = dispatcher.run(ALPHA, 'container.start', { ref: 'one' });
    const second = dispatcher.run(ALPHA, 'container.remove', { ref: 'two' });
    const [one, two] = alpha.commands;
    expect(one!.id).not.toBe(two!.id);

    dispatcher.result(ALPHA, ok(two!.id, { removed: true }));
    dispatcher.result(ALPHA, ok(one!.id, {}));

    expect(await second).toEqual({ removed: true });
    expect(await first).toEqual({});
  });

  it('ignores an answer from another worker than the one asked, and answers for unknown ids', async () => {
    const running = dispatcher.run(ALPHA, 'container.start', { ref: 'web' });
    const id = alpha.lastId;

    dispatcher.result(BETA, failed(id, 'internal', 'forged'));
    dispatcher.result(ALPHA, ok('c-unknown', {}));
    expect(dispatcher.outstanding).toBe(1);
    expect(outcomes).toEqual([]);

    dispatcher.result(ALPHA, ok(id, {}));
    expect(await running).toEqual({});
  });

  it('settles a command once: a second answer with the same id changes nothing', async () => {
    const running = dispatcher.run(ALPHA, 'container.remove', { ref: 'web' });
    const id = alpha.lastId;
    dispatcher.result(ALPHA, ok(id, { removed: true }));
    dispatcher.result(ALPHA, failed(id, 'internal', 'late'));
    expect(await running).toEqual({ removed: true });
    expect(outcomes).toEqual([['container.remove', 'ok']]);
  });

  it('reads an empty result as an empty object and an unreadable one as internal', async () => {
    const empty = dispatcher.run(ALPHA, 'container.start', { ref: 'web' });
    dispatcher.result(ALPHA, { id: alpha.lastId, ok: true, resultJson: '', errorCode: '', errorMessage: '' });
    expect(await empty).toEqual({});

    const garbled = dispatcher.run(ALPHA, 'container.start', { ref: 'web' });
    dispatcher.result(ALPHA, {
      id: alpha.lastId,
      ok: true,
      resultJson: '{not json',
      errorCode: '',
      errorMessage: '',
    });
    const error = await failureOf(garbled);
    expect(error.code).toBe('internal');
    expect(error.message).toContain('container.start');
  });

  it('keeps the error code and message the worker sent', async () => {
    const running = dispatcher.run(ALPHA, 'volume.create', { spec: { name: 'data' } });
    dispatcher.result(ALPHA, failed(alpha.lastId, 'conflict', 'volume data exists with another driver'));
    const error = await failureOf(running);
    expect(error.code).toBe('conflict');
    expect(error.message).toBe('volume data exists with another driver');
    expect(outcomes).toEqual([['volume.create', 'error']]);
  });

  it('keeps the reason and the details the worker sent, so the master need not read the message', async () => {
    const running = dispatcher.run(ALPHA, 'container.start', { ref: 'web' });
    dispatcher.result(ALPHA, {
      ...failed(
        alpha.lastId,
        'unavailable',
        'cannot reach the receiving worker at beta:7443: connect ECONNREFUSED',
      ),
      errorReason: 'peer_unreachable',
      errorDetailsJson: JSON.stringify({ peer: 'beta:7443' }),
    });
    const error = await failureOf(running);
    expect(error.code).toBe('unavailable');
    expect(error.reason).toBe('peer_unreachable');
    expect(error.details).toEqual({ peer: 'beta:7443' });
  });

  it('has no reason or details from a worker that sends none, an unknown reason or unreadable details', async () => {
    const older = dispatcher.run(ALPHA, 'container.start', { ref: 'web' });
    dispatcher.result(ALPHA, failed(alpha.lastId, 'unavailable', 'cannot reach the receiving worker'));
    const fromOlder = await failureOf(older);
    expect([fromOlder.reason, fromOlder.details]).toEqual([undefined, undefined]);

    const odd = dispatcher.run(ALPHA, 'container.start', { ref: 'web' });
    dispatcher.result(ALPHA, {
      ...failed(alpha.lastId, 'unavailable', 'link down'),
      errorReason: 'cosmic_rays',
      errorDetailsJson: '[1, 2',
    });
    const fromOdd = await failureOf(odd);
    expect([fromOdd.reason, fromOdd.details]).toEqual([undefined, undefined]);
  });

  it('maps an error code it does not know to internal, and fills in a missing message', async () => {
    const unknownCode = dispatcher.run(ALPHA, 'image.remove', { ref: 'sha256:1' });
    dispatcher.result(ALPHA, failed(alpha.lastId, 'EXPLODED', 'engine on fire'));
    const error = await failureOf(unknownCode);
    expect(error.code).toBe('internal');
    expect(error.message).toBe('engine on fire');

    const noMessage = dispatcher.run(ALPHA, 'image.remove', { ref: 'sha256:1' });
    dispatcher.result(ALPHA, failed(alpha.lastId, 'not_found', ''));
    const bare = await failureOf(noMessage);
    expect(bare.code).toBe('not_found');
    expect(bare.message).toBe('image.remove failed on the worker');
  });

  it('passes progress reports of a command to its caller, from its own worker only', async () => {
    const reports: Array<{ bytes: number; totalBytes: number }> = [];
    const running = dispatcher.run(
      ALPHA,
      'transfer.send',
      {
        transferId: 't-1',
        grant: 'g',
        resource: { type: 'volume', name: 'data' },
        route: 'direct',
        targetAddress: 'beta.example:7443',
        targetWorkerId: BETA,
      },
      { onProgress: (report) => reports.push(report) },
    );
    const id = alpha.lastId;

    dispatcher.progress(ALPHA, { id, bytes: 100, totalBytes: 1000 });
    dispatcher.progress(BETA, { id, bytes: 999, totalBytes: 1000 });
    dispatcher.progress(ALPHA, { id: 'c-unknown', bytes: 5, totalBytes: 5 });
    dispatcher.progress(ALPHA, { id, bytes: 1000, totalBytes: 1000 });
    dispatcher.result(ALPHA, ok(id, { sha256: 'ab', bytes: 1000 }));
    dispatcher.progress(ALPHA, { id, bytes: 2000, totalBytes: 1000 });

    await running;
    expect(reports).toEqual([
      { bytes: 100, totalBytes: 1000 },
      { bytes: 1000, totalBytes: 1000 },
    ]);
  });

  it('fails a command the worker does not finish in time with deadline_exceeded, and cancels it there', async () => {
    const running = dispatcher.run(
      ALPHA,
      'container.await_ready',
      { ref: 'web', timeoutMs: 10 },
      { timeoutMs: 20 },
    );
    const id = alpha.lastId;

    const error = await failureOf(running);
    expect(error.code).toBe('deadline_exceeded');
    expect(error.message).toBe('worker "alpha" did not finish container.await_ready within 20 ms');
    expect(alpha.cancelled).toEqual([id]);
    expect(dispatcher.outstanding).toBe(0);

    // The answer that comes after is dropped.
    dispatcher.result(ALPHA, ok(id, { state: 'running' }));
    expect(outcomes).toEqual([]);
  });

  it('fails an aborted command with canceled, and cancels it on the worker', async () => {
    const controller = new AbortController();
    const running = dispatcher.run(ALPHA, 'container.stop', { ref: 'web' }, { signal: controller.signal });
    const id = alpha.lastId;

    controller.abort();

    const error = await failureOf(running);
    expect(error.code).toBe('canceled');
    expect(error.message).toBe('container.stop on worker "alpha" was cancelled');
    expect(alpha.cancelled).toEqual([id]);
    expect(dispatcher.outstanding).toBe(0);
  });

  it('lets a caller wait until the worker answered a command it stopped waiting for', async () => {
    const controller = new AbortController();
    const running = dispatcher.run(ALPHA, 'container.stop', { ref: 'web' }, { signal: controller.signal });
    const id = alpha.lastId;
    controller.abort();
    expect((await failureOf(running)).code).toBe('canceled');

    let quiet: boolean | undefined;
    const waiting = dispatcher.quiesce(ALPHA, 60_000).then((answer) => (quiet = answer));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(quiet).toBeUndefined();
    // Another worker's commands do not hold it up; the abandoned command's own answer does.
    expect(await dispatcher.quiesce(BETA, 60_000)).toBe(true);
    dispatcher.result(ALPHA, ok(id, { wasRunning: true }));
    await waiting;
    expect(quiet).toBe(true);
  });

  it('stops waiting for an abandoned command when its session ends, or after the timeout', async () => {
    const controller = new AbortController();
    const running = dispatcher.run(ALPHA, 'container.stop', { ref: 'web' }, { signal: controller.signal });
    controller.abort();
    await failureOf(running);
    expect(await dispatcher.quiesce(ALPHA, 10)).toBe(false);
    const waiting = dispatcher.quiesce(ALPHA, 60_000);
    dispatcher.sessionEnded(alpha, 'stream closed');
    expect(await waiting).toBe(true);
  });

  it('refuses at once, sending nothing, when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await failureOf(
      dispatcher.run(ALPHA, 'container.stop', { ref: 'web' }, { signal: controller.signal }),
    );
    expect(error.code).toBe('canceled');
    expect(alpha.commands).toEqual([]);
  });

  it('does not cancel a command on its worker when the signal aborts after the answer', async () => {
    const controller = new AbortController();
    const running = dispatcher.run(ALPHA, 'container.start', { ref: 'web' }, { signal: controller.signal });
    dispatcher.result(ALPHA, ok(alpha.lastId, {}));
    await running;
    controller.abort();
    expect(alpha.cancelled).toEqual([]);
  });

  it('fails, as unavailable, only the commands of the session that ended', async () => {
    const onAlpha = dispatcher.run(ALPHA, 'container.stop', { ref: 'web' });
    const alsoOnAlpha = dispatcher.run(ALPHA, 'volume.remove', { name: 'data' });
    const onBeta = dispatcher.run(BETA, 'container.start', { ref: 'web' });

    dispatcher.sessionEnded(alpha, 'stream closed');

    const first = await failureOf(onAlpha);
    expect(first.code).toBe('unavailable');
    expect(first.message).toBe('lost worker "alpha" during container.stop (stream closed)');
    expect((await failureOf(alsoOnAlpha)).code).toBe('unavailable');
    expect(dispatcher.outstanding).toBe(1);

    dispatcher.result(BETA, ok(beta.lastId, {}));
    expect(await onBeta).toEqual({});
  });

  it('leaves a newer session’s commands alone when an older session of the same worker ends', async () => {
    const old = alpha;
    const newer = new RecordingSession();
    await registry.attach(ALPHA, hello('alpha'), newer);
    const running = dispatcher.run(ALPHA, 'container.start', { ref: 'web' });
    expect(newer.commands).toHaveLength(1);
    expect(old.commands).toEqual([]);

    dispatcher.sessionEnded(old, 'replaced');
    expect(dispatcher.outstanding).toBe(1);

    dispatcher.result(ALPHA, ok(newer.lastId, {}));
    expect(await running).toEqual({});
  });

  it('refuses at once, as unavailable, a worker that is offline or unknown', async () => {
    const offline = await failureOf(dispatcher.run(GAMMA, 'engine.describe', {}));
    expect(offline.code).toBe('unavailable');
    expect(offline.message).toBe('worker "gamma" is offline');

    const unknown = await failureOf(dispatcher.run('w-nobody', 'engine.describe', {}));
    expect(unknown.code).toBe('unavailable');
    expect(unknown.message).toContain('w-nobody');
    expect(dispatcher.outstanding).toBe(0);
  });

  it('refuses a worker whose session was detached', async () => {
    registry.detach(ALPHA, alpha, 'stream closed');
    expect((await failureOf(dispatcher.run(ALPHA, 'engine.describe', {}))).code).toBe('unavailable');
    expect(alpha.commands).toEqual([]);
  });

  it('fails everything outstanding on closeAll', async () => {
    const one = dispatcher.run(ALPHA, 'engine.describe', {});
    const two = dispatcher.run(BETA, 'engine.describe', {});
    dispatcher.closeAll('the master is shutting down');
    for (const error of [await failureOf(one), await failureOf(two)]) {
      expect(error.code).toBe('unavailable');
      expect(error.message).toBe('the master is shutting down');
    }
    expect(dispatcher.outstanding).toBe(0);
  });

  it('forgets a command whose session failed to send it', async () => {
    const broken = new RecordingSession();
    broken.sendCommand = () => {
      throw new Error('write after end');
    };
    await registry.attach(ALPHA, hello('alpha'), broken);
    await expect(dispatcher.run(ALPHA, 'engine.describe', {})).rejects.toThrow('write after end');
    expect(dispatcher.outstanding).toBe(0);
  });
});
