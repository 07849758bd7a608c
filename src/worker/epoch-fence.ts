// The worker's side of fencing: the highest leader epoch it has seen, so that a master that no longer leads (a
// newer leader exists) can neither keep its session nor have a command run.
import { AppError } from '../core/errors.js';

/**
 * Remembers the highest epoch seen in welcomes, master beats and commands, for the worker's lifetime. Epoch 0 (a
 * master without high availability) passes as long as no higher epoch was seen.
 */
export class EpochFence {
  private highest = 0;

  /** The highest epoch seen so far. */
  get seen(): number {
    return this.highest;
  }

  /** Notes a master's epoch; false when it is lower than one already seen (that master no longer leads). */
  admit(epoch: number): boolean {
    if (epoch < this.highest) return false;
    this.highest = epoch;
    return true;
  }

  /** Lets a command through, or refuses it (`fenced`) when it comes from a leader older than one already seen. */
  admitCommand(epoch: number): void {
    if (this.admit(epoch)) return;
    throw new AppError(
      'failed_precondition',
      `this command comes from a master that no longer leads (epoch ${epoch}; this worker has seen epoch ${this.highest})`,
      { reason: 'fenced', details: { epoch, seen_epoch: this.highest } },
    );
  }

  /** The error that ends a session with a master whose welcome or beat carries an older epoch. */
  staleMaster(master: string, epoch: number): AppError {
    return new AppError(
      'unavailable',
      `the master at ${master} no longer leads (epoch ${epoch}; this worker has seen epoch ${this.highest})`,
      { reason: 'fenced', details: { epoch, seen_epoch: this.highest } },
    );
  }
}
