// Several masters, one leader: standbys refuse workers and name the leader, a worker given every master finds the
// one that leads, follows the lead when it moves, and refuses what comes from a master that no longer leads.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import type { Welcome } from '../../src/gen/dockation/v1/control.js';
import { CommandDispatcher } from '../../src/master/command-dispatcher.js';
import type { ControlTerm } from '../../src/master/grpc/control-server.js';
import { WorkerRegistry } from '../../src/master/worker-registry.js';
import { ControlServiceClient } from '../../src/gen/dockation/v1/control.js';
import { fromGrpcError } from '../../src/platform/grpc-support.js';
import { createKeyAndCsr } from '../../src/platform/pki.js';
import { tokenMatches } from '../../src/platform/secrets.js';
import { masterChannelCredentials, masterChannelOptions } from '../../src/worker/enroll.js';
import {
  TOKEN,
  cleanUp,
  startMaster,
  startWorker,
  tempDir,
  type Master,
} from '../support/control-plane-fixture.js';

afterEach(cleanUp);

async function leaderTerm(master: Master, epoch: number, dispatcherEpoch = epoch): Promise<ControlTerm> {
  // A new leader loads the workers from the shared store, as it does when it takes the lease.
  const registry = await WorkerRegistry.load({ store: master.store, workerTimeoutMs: 10_000 });
  return {
    epoch,
    registry,
    dispatcher: new CommandDispatcher(registry, dispatcherEpoch),
    acceptEnrollmentToken: (token) => Promise.resolve(tokenMatches(token, TOKEN)),
  };
}

async function refusalOf(work: Promise<unknown>): Promise<AppError> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a refusal');
}

/** One Enroll call to `master`, as the worker makes it, without following a leader it names. */
async function enrollAt(master: Master): Promise<unknown> {
  const { credentials } = masterChannelCredentials(master.tls.ca.certPem);
  const client = new ControlServiceClient(master.url, credentials, masterChannelOptions());
  const { csrPem } = await createKeyAndCsr({ commonName: 'worker-one' });
  try {
    return await new Promise((resolve, reject) => {
      client.enroll(
        { token: TOKEN, csrPem, name: 'worker-one', hostname: 'worker-one.test', labels: {}, version: '0' },
        (error, answer) => {
          if (error) reject(fromGrpcError(error, 'enrollment failed'));
          else resolve(answer);
        },
      );
    });
  } finally {
    client.close();
  }
}

describe('a standby master', () => {
  it('refuses enrollment as not the leader, naming the leader when it knows it', async () => {
    const standby = await startMaster({ term: () => undefined, leaderAddress: () => 'leader.example:9090' });
    const error = await refusalOf(enrollAt(standby));
    expect(error.code).toBe('unavailable');
    expect(error.reason).toBe('not_leader');
    expect(error.message).toMatch(/this master does not lead; the leader is at leader\.example:9090$/);
    expect(error.details).toEqual({ leader: 'leader.example:9090' });
  });

  it('says that no master leads when it knows no leader', async () => {
    const standby = await startMaster({ term: () => undefined, leaderAddress: () => undefined });
    const error = await refusalOf(enrollAt(standby));
    expect(error.reason).toBe('not_leader');
    expect(error.message).toMatch(/no master leads right now$/);
    expect(error.details).toBeUndefined();
  });
});

describe('a worker given several masters', () => {
  it('enrolls with and connects to the leader, follows the lead when it moves, and hears the epoch', async () => {
    // `first` holds the store and CA the two masters share.
    const first = await startMaster();
    let firstTerm: ControlTerm | undefined = await leaderTerm(first, 1);
    let secondTerm: ControlTerm | undefined = undefined;
    let leader = first.url;
    // Two masters over one store and CA: `a` leads first, `b` is a standby naming it.
    const a = await startMaster({
      tls: first.tls,
      wrapStore: () => first.store,
      term: () => firstTerm,
      leaderAddress: () => leader,
    });
    const b = await startMaster({
      tls: first.tls,
      wrapStore: () => first.store,
      term: () => secondTerm,
      leaderAddress: () => leader,
    });
    leader = a.url;
    const welcomes: Array<{ welcome: Welcome }> = [];
    const worker = startWorker(a, {
      dataDir: tempDir('dm-worker-'),
      masterUrl: `${b.url},${a.url}`,
      onConnected: (welcome) => {
        welcomes.push({ welcome });
      },
    });
    await vi.waitFor(
      () => {
        expect(welcomes.map(({ welcome }) => welcome.epoch)).toEqual([1]);
      },
      { timeout: 10_000 },
    );
    const workerId = welcomes[0]!.welcome.workerId;
    expect(firstTerm.registry.require(workerId).online).toBe(true);

    // The lead moves to `b`: `a` ends its session at its next heartbeat tick and names `b`.
    secondTerm = await leaderTerm(first, 2);
    leader = b.url;
    firstTerm = undefined;
    await vi.waitFor(
      () => {
        expect(welcomes.map(({ welcome }) => welcome.epoch)).toEqual([1, 2]);
      },
      { timeout: 10_000 },
    );
    expect(secondTerm.registry.require(workerId).online).toBe(true);

    worker.controller.abort();
    expect(await worker.outcome).toEqual({ ok: true });
  });
});

describe('fencing on the worker', () => {
  it('refuses unrun a command from an older epoch than one it has seen', async () => {
    const master = await startMaster();
    // A leader of epoch 5 whose dispatcher still sends for epoch 4: what a deposed leader's commands look like.
    const term = await leaderTerm(master, 5, 4);
    const fenced = await startMaster({
      tls: master.tls,
      wrapStore: () => master.store,
      term: () => term,
      leaderAddress: () => undefined,
    });
    const worker = startWorker(fenced, { dataDir: tempDir('dm-worker-') });
    const { welcome } = await worker.connected;
    expect(welcome.epoch).toBe(5);

    const error = await refusalOf(
      term.dispatcher.run(welcome.workerId, 'container.stop', { ref: 'web', timeoutSeconds: 1 }),
    );
    expect(error.code).toBe('failed_precondition');
    expect(error.reason).toBe('fenced');
    expect(error.message).toBe(
      'this command comes from a master that no longer leads (epoch 4; this worker has seen epoch 5)',
    );
  });

  it('leaves a master whose welcome carries an older epoch than one it has seen', async () => {
    const store = await startMaster();
    let term: ControlTerm = await leaderTerm(store, 5);
    const master = await startMaster({
      tls: store.tls,
      wrapStore: () => store.store,
      term: () => term,
      leaderAddress: () => undefined,
    });
    const epochs: number[] = [];
    const worker = startWorker(master, {
      dataDir: tempDir('dm-worker-'),
      onConnected: (welcome) => {
        epochs.push(welcome.epoch);
      },
    });
    await vi.waitFor(() => {
      expect(epochs).toEqual([5]);
    });

    // A term with an older epoch (a deposed leader's view): the session ends and the worker does not stay.
    const stale = await leaderTerm(store, 2);
    term = stale;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(epochs).toEqual([5]);

    term = await leaderTerm(store, 6);
    await vi.waitFor(
      () => {
        expect(epochs).toEqual([5, 6]);
      },
      { timeout: 10_000 },
    );
    worker.controller.abort();
    expect(await worker.outcome).toEqual({ ok: true });
  });
});
