// Where an incoming transfer meets the command waiting for it: the master tells the receiver what to do with a
// transfer (receive command) and the sender connects on its own; whichever comes first waits for the other.
import { AppError } from '../core/errors.js';
import type { TransferResource, TransferResult } from '../core/worker-commands.js';
import type { IncomingTransfer } from '../transfer/bulk-channel.js';
import { describeResource, sameResource } from '../transfer/grant.js';

export type TransferConsumer = (incoming: IncomingTransfer) => Promise<TransferResult>;

interface Expectation {
  consumer: TransferConsumer;
  /** What the receive command was told to expect; a sender's grant must name the same. */
  resource?: TransferResource;
  settle: (outcome: { result: TransferResult } | { error: unknown }) => void;
}

interface Arrival {
  deliver: (expectation: Expectation) => void;
}

export class TransferInbox {
  private readonly expectations = new Map<string, Expectation>();
  private readonly arrivals = new Map<string, Arrival>();

  /**
   * Registers what to do with transfer `transferId` and resolves with its result once a sender came and the
   * consumer finished; rejects if no sender comes within `timeoutMs` or the signal aborts.
   */
  expect(
    transferId: string,
    consumer: TransferConsumer,
    options: { timeoutMs: number; signal?: AbortSignal; resource?: TransferResource },
  ): Promise<TransferResult> {
    if (this.expectations.has(transferId))
      return Promise.reject(new AppError('conflict', `transfer ${transferId} is already expected`));
    if (options.signal?.aborted)
      return Promise.reject(new AppError('canceled', 'the transfer was cancelled'));
    return new Promise<TransferResult>((resolve, reject) => {
      let started = false;
      const timer = setTimeout(() => {
        if (started) return;
        options.signal?.removeEventListener('abort', onAbort);
        this.expectations.delete(transferId);
        reject(new AppError('deadline_exceeded', 'the sending worker did not connect in time'));
      }, options.timeoutMs);
      const onAbort = (): void => {
        if (started) return;
        clearTimeout(timer);
        this.expectations.delete(transferId);
        reject(new AppError('canceled', 'the transfer was cancelled'));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const expectation: Expectation = {
        ...(options.resource ? { resource: options.resource } : {}),
        consumer: (incoming) => {
          started = true;
          clearTimeout(timer);
          return consumer(incoming);
        },
        settle: (outcome) => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          this.expectations.delete(transferId);
          if ('result' in outcome) resolve(outcome.result);
          else reject(AppError.from(outcome.error));
        },
      };
      const arrival = this.arrivals.get(transferId);
      if (arrival) {
        this.arrivals.delete(transferId);
        arrival.deliver(expectation);
      } else {
        this.expectations.set(transferId, expectation);
      }
    });
  }

  /**
   * A sender connected with a valid grant: once the receive command is there (waiting up to `timeoutMs` for it),
   * `run` takes the transfer with that command's consumer; resolves with the result.
   */
  async deliver(
    transferId: string,
    run: (consumer: TransferConsumer) => Promise<TransferResult>,
    timeoutMs: number,
    granted?: TransferResource,
  ): Promise<TransferResult> {
    const expectation =
      this.expectations.get(transferId) ??
      (await new Promise<Expectation>((resolve, reject) => {
        if (this.arrivals.has(transferId)) {
          reject(new AppError('conflict', `transfer ${transferId} already has a sender`));
          return;
        }
        const timer = setTimeout(() => {
          this.arrivals.delete(transferId);
          reject(new AppError('failed_precondition', 'this worker does not expect that transfer'));
        }, timeoutMs);
        this.arrivals.set(transferId, {
          deliver: (found) => {
            clearTimeout(timer);
            resolve(found);
          },
        });
      }));
    this.expectations.delete(transferId);
    const expected = expectation.resource;
    // An image must match with its tags too: they decide what the load may name on this engine.
    if (expected && granted && !sameResource(expected, granted)) {
      const error = new AppError(
        'permission_denied',
        `transfer refused: the grant is for ${describeResource(granted)}, this worker expects ${describeResource(expected)}`,
      );
      expectation.settle({ error });
      throw error;
    }
    try {
      const result = await run(expectation.consumer);
      expectation.settle({ result });
      return result;
    } catch (error) {
      expectation.settle({ error });
      throw error;
    }
  }
}
