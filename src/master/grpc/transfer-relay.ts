// The master's relay for workers that cannot reach each other: the sender pushes to the master, the receiver pulls
// from it, and the master pipes one into the other with backpressure. Both sides need a grant naming them.
import type { X509Certificate } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { AppError } from '../../core/errors.js';
import type { MasterStore } from '../../core/ports.js';
import {
  type PullRequest,
  type PullResponse,
  type PushRequest,
  type PushResponse,
  type TransferServiceServer,
} from '../../gen/dockation/v1/transfer.js';
import { toGrpcError } from '../../platform/grpc-support.js';
import type { Logger } from '../../platform/logger.js';
import { verifyGrant } from '../../transfer/grant.js';
import { TRANSFER_SERVICE } from '../../transfer/transfer-codec.js';
import { authenticatePeer } from './peer-auth.js';

/** How long one side waits for the other to show up. */
const RENDEZVOUS_MS = 60_000;

interface Receiver {
  call: grpc.ServerWritableStream<PullRequest, PullResponse>;
  /** Settles when the receiver hangs up or the relay ends. */
  gone: Promise<void>;
}

export interface TransferRelay {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  /** Relays in progress. */
  readonly active: number;
  /** Bytes relayed since start. */
  readonly bytesRelayed: number;
  close(): void;
}

export function createTransferRelay(options: {
  ca: X509Certificate;
  store: MasterStore;
  logger: Logger;
}): TransferRelay {
  const { ca, store, logger } = options;
  const receivers = new Map<string, Receiver>();
  const waiting = new Map<string, Array<(receiver: Receiver) => void>>();
  let active = 0;
  let bytesRelayed = 0;

  function receiverFor(transferId: string): Promise<Receiver> {
    const present = receivers.get(transferId);
    if (present) return Promise.resolve(present);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = waiting.get(transferId) ?? [];
        waiting.set(
          transferId,
          list.filter((entry) => entry !== deliver),
        );
        reject(
          new AppError('deadline_exceeded', 'the receiving worker did not connect to the relay in time'),
        );
      }, RENDEZVOUS_MS);
      function deliver(receiver: Receiver): void {
        clearTimeout(timer);
        resolve(receiver);
      }
      waiting.set(transferId, [...(waiting.get(transferId) ?? []), deliver]);
    });
  }

  function pull(call: grpc.ServerWritableStream<PullRequest, PullResponse>): void {
    const fail = (error: unknown): void => {
      call.emit('error', toGrpcError(error));
    };
    (async () => {
      const peer = await authenticatePeer(call, ca, store);
      verifyGrant(call.request.grant, {
        ca: ca.publicKey,
        transferId: call.request.transferId,
        expect: { targetWorkerId: peer.workerId },
      });
      if (receivers.has(call.request.transferId))
        throw new AppError('conflict', 'this transfer already has a receiver');
      let markGone: () => void = () => undefined;
      const gone = new Promise<void>((resolve) => {
        markGone = resolve;
      });
      const receiver: Receiver = { call, gone };
      receivers.set(call.request.transferId, receiver);
      const cleanUp = (): void => {
        if (receivers.get(call.request.transferId) === receiver) receivers.delete(call.request.transferId);
        markGone();
      };
      call.on('cancelled', cleanUp);
      call.on('close', cleanUp);
      call.on('finish', cleanUp);
      call.on('error', cleanUp);
      const queued = waiting.get(call.request.transferId) ?? [];
      waiting.delete(call.request.transferId);
      for (const deliver of queued) deliver(receiver);
    })().catch(fail);
  }

  function push(
    call: grpc.ServerReadableStream<PushRequest, PushResponse>,
    callback: grpc.sendUnaryData<PushResponse>,
  ): void {
    let receiver: Receiver | undefined;
    active += 1;
    (async (): Promise<PushResponse> => {
      const peer = await authenticatePeer(call, ca, store);
      let result: PushResponse | undefined;
      for await (const message of call as AsyncIterable<PushRequest>) {
        const body = message.body;
        if (!body) continue;
        if (body.$case === 'header') {
          if (receiver) throw new AppError('invalid_argument', 'the transfer sent a second header');
          const grant = verifyGrant(body.value.grant, {
            ca: ca.publicKey,
            transferId: body.value.transferId,
            expect: { sourceWorkerId: peer.workerId },
          });
          logger.info(
            { transferId: grant.transferId, migrationId: grant.migrationId, resource: grant.resource },
            'relaying a transfer',
          );
          receiver = await receiverFor(grant.transferId);
          continue;
        }
        if (!receiver) throw new AppError('invalid_argument', 'the transfer must start with its header');
        const out = receiver.call;
        if (out.destroyed || out.writableEnded)
          throw new AppError('unavailable', 'the receiving worker left the relay');
        if (body.$case === 'data') {
          bytesRelayed += body.value.length;
          if (!out.write({ body: { $case: 'data', value: body.value } }))
            await Promise.race([new Promise((resolve) => out.once('drain', resolve)), receiver.gone]);
        } else {
          out.write({ body: { $case: 'trailer', value: body.value } });
          out.end();
          result = { sha256: body.value.sha256, bytes: body.value.bytes };
        }
      }
      if (!result) throw new AppError('unavailable', 'the sender broke off the transfer');
      return result;
    })().then(
      (response) => {
        active -= 1;
        callback(null, response);
      },
      (error: unknown) => {
        active -= 1;
        // The receiver must not take a broken stream for a finished one.
        if (receiver && !receiver.call.writableEnded) receiver.call.emit('error', toGrpcError(error));
        callback(toGrpcError(error));
      },
    );
  }

  const implementation: TransferServiceServer = { push, pull };
  return {
    definition: TRANSFER_SERVICE,
    implementation,
    get active() {
      return active;
    },
    get bytesRelayed() {
      return bytesRelayed;
    },
    close() {
      for (const receiver of receivers.values())
        receiver.call.emit('error', toGrpcError(new AppError('unavailable', 'the master is shutting down')));
      receivers.clear();
    },
  };
}
