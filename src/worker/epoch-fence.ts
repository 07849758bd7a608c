// The worker's side of fencing: the highest leader epoch it has seen, so that a master that no longer leads (a
// newer leader exists) can neither keep its session nor have a command run — and a new leader's commands wait until
// the old leader's have ended on this host.
import { AppError } from '../core/errors.js';

/**
 * Remembers the highest epoch seen in welcomes, master beats and commands, for the worker's lifetime. Epoch 0 (a
 * master without high availability) passes as long as no higher epoch was seen.
 */
export class EpochFence {
  private highest = 0;
  /** Commands under way, with the epoch of the leader that sent them. */
  private readonly running = new Set<{ epoch: number; ended: Promise<unknown> }>();

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

  /**
   * Runs a command admitted by `admitCommand`, after every command of an older leader still under way here has
   * ended. A session's commands are cancelled when it ends, but an engine call already made runs to its end (a
   * container's stop waits out its grace period): a new leader that inspects the engine must see its outcome, not a
   * state that changes under it — a source container "still running" that the old leader's stop then kills.
   */
  async runInOrder<T>(epoch: number, work: () => Promise<T>): Promise<T> {
    const older = [...this.running].filter((entry) => entry.epoch < epoch).map((entry) => entry.ended);
    const ended = Promise.allSettled(older).then(work);
    const entry = { epoch, ended };
    this.running.add(entry);
    try {
      return await ended;
    } finally {
      this.running.delete(entry);
    }
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
