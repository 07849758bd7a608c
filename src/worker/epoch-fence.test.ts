// A worker refuses what comes from a master that no longer leads: commands unrun, sessions ended.
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { EpochFence } from './epoch-fence.js';

function refusal(run: () => void): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a refusal');
}

describe('EpochFence', () => {
  it('accepts epoch 0 (a master without high availability) while nothing higher was seen', () => {
    const fence = new EpochFence();
    expect(fence.admit(0)).toBe(true);
    expect(() => {
      fence.admitCommand(0);
    }).not.toThrow();
    expect(fence.seen).toBe(0);
  });

  it('accepts the same or a newer epoch and remembers the highest', () => {
    const fence = new EpochFence();
    expect(fence.admit(3)).toBe(true);
    expect(fence.admit(3)).toBe(true);
    fence.admitCommand(5);
    expect(fence.seen).toBe(5);
  });

  it('refuses a command from an older leader as fenced, naming both epochs', () => {
    const fence = new EpochFence();
    fence.admit(4);
    const error = refusal(() => {
      fence.admitCommand(3);
    });
    expect(error.code).toBe('failed_precondition');
    expect(error.reason).toBe('fenced');
    expect(error.message).toBe(
      'this command comes from a master that no longer leads (epoch 3; this worker has seen epoch 4)',
    );
    expect(error.details).toEqual({ epoch: 3, seen_epoch: 4 });
    expect(fence.seen).toBe(4);
  });

  it('refuses epoch 0 once a leader with a higher epoch was seen', () => {
    const fence = new EpochFence();
    fence.admit(1);
    expect(fence.admit(0)).toBe(false);
    expect(
      refusal(() => {
        fence.admitCommand(0);
      }).reason,
    ).toBe('fenced');
  });

  it('ends a session with an older master as unavailable, so the worker looks for the leader', () => {
    const fence = new EpochFence();
    fence.admit(9);
    const error = fence.staleMaster('m1:9090', 8);
    expect(error.code).toBe('unavailable');
    expect(error.reason).toBe('fenced');
    expect(error.message).toBe(
      'the master at m1:9090 no longer leads (epoch 8; this worker has seen epoch 9)',
    );
  });

  it("runs a new leader's command only once the old leader's commands have ended, its own at once", async () => {
    const fence = new EpochFence();
    const order: string[] = [];
    let endOldStop!: () => void;
    const oldStop = fence.runInOrder(1, async () => {
      order.push('old stop begins');
      await new Promise<void>((resolve) => (endOldStop = resolve));
      order.push('old stop ends');
    });
    // Another command of the same leader does not wait.
    await fence.runInOrder(1, () => Promise.resolve(order.push('old inspect')));
    const newInspect = fence.runInOrder(2, () => Promise.resolve(order.push('new inspect')));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual(['old stop begins', 'old inspect']);
    endOldStop();
    await Promise.all([oldStop, newInspect]);
    expect(order).toEqual(['old stop begins', 'old inspect', 'old stop ends', 'new inspect']);
    // A failed older command does not hold the new leader's back, and its failure stays its own.
    const failed = fence.runInOrder(2, () => Promise.reject(new Error('engine gone')));
    await expect(fence.runInOrder(3, () => Promise.resolve('ran'))).resolves.toBe('ran');
    await expect(failed).rejects.toThrow('engine gone');
  });
});
