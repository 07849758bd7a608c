// Where a receive command meets the sender that connects for it: either may come first, and neither waits forever.
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import type { TransferResult } from '../core/worker-commands.js';
import type { IncomingTransfer } from '../transfer/bulk-channel.js';
import { TransferInbox, type TransferConsumer } from './transfer-inbox.js';

const RESULT: TransferResult = { xxh128: 'ab'.repeat(16), bytes: 3 };

async function* chunksOf(payloads: string[]): AsyncGenerator<Buffer> {
  for (const payload of payloads) {
    await Promise.resolve();
    yield Buffer.from(payload);
  }
}

/** A sender's side as the transfer server runs it: the matched command's consumer takes these chunks. */
function messagesOf(...payloads: string[]): (consumer: TransferConsumer) => Promise<TransferResult> {
  return (consumer) => {
    const incoming: IncomingTransfer = {
      data: chunksOf(payloads),
      finish: () => Promise.resolve({ xxh128: 'ignored', bytes: 0 }),
    };
    return consumer(incoming);
  };
}

/** A consumer that reads every message and remembers what it read. */
function reading(into: string[], result: TransferResult = RESULT): TransferConsumer {
  return async (incoming) => {
    for await (const chunk of incoming.data) into.push(chunk.toString());
    return result;
  };
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

describe('TransferInbox', () => {
  it('hands a sender to the command that expected it, and both get the result', async () => {
    const inbox = new TransferInbox();
    const read: string[] = [];
    const expecting = inbox.expect('t-1', reading(read), { timeoutMs: 1000 });

    const delivered = await inbox.deliver('t-1', messagesOf('a', 'b', 'c'), 1000);

    expect(delivered).toEqual(RESULT);
    expect(await expecting).toEqual(RESULT);
    expect(read).toEqual(['a', 'b', 'c']);
  });

  it('keeps a sender that came first until the command expects it', async () => {
    const inbox = new TransferInbox();
    const read: string[] = [];
    const delivering = inbox.deliver('t-1', messagesOf('x', 'y'), 1000);
    await new Promise((resolve) => setTimeout(resolve, 10));

    const expected = await inbox.expect('t-1', reading(read), { timeoutMs: 1000 });

    expect(expected).toEqual(RESULT);
    expect(await delivering).toEqual(RESULT);
    expect(read).toEqual(['x', 'y']);
  });

  it('keeps transfers apart by id', async () => {
    const inbox = new TransferInbox();
    const first: string[] = [];
    const second: string[] = [];
    const one = inbox.expect('t-1', reading(first, { xxh128: '1', bytes: 1 }), { timeoutMs: 1000 });
    const two = inbox.expect('t-2', reading(second, { xxh128: '2', bytes: 2 }), { timeoutMs: 1000 });

    await inbox.deliver('t-2', messagesOf('for two'), 1000);
    await inbox.deliver('t-1', messagesOf('for one'), 1000);

    expect(await one).toEqual({ xxh128: '1', bytes: 1 });
    expect(await two).toEqual({ xxh128: '2', bytes: 2 });
    expect([first, second]).toEqual([['for one'], ['for two']]);
  });

  it('fails the command with deadline_exceeded when no sender comes in time, and forgets it', async () => {
    const inbox = new TransferInbox();
    const error = await failureOf(inbox.expect('t-1', reading([]), { timeoutMs: 20 }));
    expect(error.code).toBe('deadline_exceeded');

    // A sender arriving after that finds nobody waiting.
    const late = await failureOf(inbox.deliver('t-1', messagesOf('late'), 20));
    expect(late.code).toBe('failed_precondition');
  });

  it('does not time out a transfer that started, however long it runs', async () => {
    const inbox = new TransferInbox();
    let release = (): void => undefined;
    const slow: TransferConsumer = async () => {
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return RESULT;
    };
    const expecting = inbox.expect('t-1', slow, { timeoutMs: 20 });
    const delivering = inbox.deliver('t-1', messagesOf(), 1000);
    await new Promise((resolve) => setTimeout(resolve, 60));
    release();

    expect(await expecting).toEqual(RESULT);
    expect(await delivering).toEqual(RESULT);
  });

  it('fails the command with canceled when aborted before a sender came, and forgets it', async () => {
    const inbox = new TransferInbox();
    const controller = new AbortController();
    const expecting = inbox.expect('t-1', reading([]), { timeoutMs: 1000, signal: controller.signal });
    controller.abort();

    expect((await failureOf(expecting)).code).toBe('canceled');
    expect((await failureOf(inbox.deliver('t-1', messagesOf('late'), 20))).code).toBe('failed_precondition');
  });

  it('fails at once with canceled when the signal is already aborted', async () => {
    const inbox = new TransferInbox();
    const controller = new AbortController();
    controller.abort();
    const error = await failureOf(
      inbox.expect('t-1', reading([]), { timeoutMs: 1000, signal: controller.signal }),
    );
    expect(error.code).toBe('canceled');
  });

  it('refuses, with failed_precondition, a sender nobody expects within its wait', async () => {
    const inbox = new TransferInbox();
    const started = Date.now();
    const error = await failureOf(inbox.deliver('t-unknown', messagesOf('data'), 30));
    expect(error.code).toBe('failed_precondition');
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it('refuses a second expectation and a second waiting sender for the same transfer', async () => {
    const inbox = new TransferInbox();
    const first = inbox.expect('t-1', reading([]), { timeoutMs: 50 });
    expect((await failureOf(inbox.expect('t-1', reading([]), { timeoutMs: 50 }))).code).toBe('conflict');
    await failureOf(first);

    const waiting = inbox.deliver('t-2', messagesOf(), 50);
    expect((await failureOf(inbox.deliver('t-2', messagesOf(), 50))).code).toBe('conflict');
    expect((await failureOf(waiting)).code).toBe('failed_precondition');
  });

  it('gives a failing consumer’s error to both the command and the sender', async () => {
    const inbox = new TransferInbox();
    const broken = new AppError('internal', 'checksum mismatch: received 3 bytes');
    const failing: TransferConsumer = async (messages) => {
      const read: string[] = [];
      await reading(read)(messages);
      throw broken;
    };
    const expecting = inbox.expect('t-1', failing, { timeoutMs: 1000 });

    const senderError = await failureOf(inbox.deliver('t-1', messagesOf('abc'), 1000));
    const commandError = await failureOf(expecting);

    expect(senderError).toBe(broken);
    expect(commandError).toBe(broken);
  });

  it('wraps a consumer’s plain error for the command and keeps it as the cause', async () => {
    const inbox = new TransferInbox();
    const plain = new Error('disk full');
    const expecting = inbox.expect('t-1', () => Promise.reject(plain), { timeoutMs: 1000 });
    await expect(inbox.deliver('t-1', messagesOf(), 1000)).rejects.toBe(plain);
    const error = await failureOf(expecting);
    expect(error.code).toBe('internal');
    expect(error.message).toBe('disk full');
    expect(error.cause).toBe(plain);
  });

  it('refuses, on both sides, a sender whose grant names another resource than the one expected', async () => {
    const inbox = new TransferInbox();
    const read: string[] = [];
    const expecting = inbox.expect('t-1', reading(read), {
      timeoutMs: 1000,
      resource: { type: 'volume', name: 'data' },
    });

    const senderError = await failureOf(
      inbox.deliver('t-1', messagesOf('x'), 1000, { type: 'volume', name: 'secrets' }),
    );
    expect(senderError.code).toBe('permission_denied');
    expect(senderError.message).toContain('"secrets"');
    expect(await failureOf(expecting)).toBe(senderError);
    expect(read).toEqual([]);
  });

  it('refuses a sender whose grant names the same image under other target tags', async () => {
    const inbox = new TransferInbox();
    const read: string[] = [];
    const expecting = inbox.expect('t-1', reading(read), {
      timeoutMs: 1000,
      resource: { type: 'image', name: 'sha256:1', tags: ['app:1-migrated'] },
    });

    const senderError = await failureOf(
      inbox.deliver('t-1', messagesOf('x'), 1000, { type: 'image', name: 'sha256:1', tags: ['app:1'] }),
    );
    expect(senderError.code).toBe('permission_denied');
    expect(senderError.message).toContain('tagged app:1,');
    expect(senderError.message).toContain('tagged app:1-migrated');
    expect(await failureOf(expecting)).toBe(senderError);
    expect(read).toEqual([]);
  });

  it('hands over a sender whose grant names the resource expected', async () => {
    const inbox = new TransferInbox();
    const delivering = inbox.deliver('t-1', messagesOf('x'), 1000, {
      type: 'image',
      name: 'sha256:1',
      tags: ['b:1', 'a:1'],
    });
    const expecting = inbox.expect('t-1', reading([]), {
      timeoutMs: 1000,
      resource: { type: 'image', name: 'sha256:1', tags: ['a:1', 'b:1'] },
    });
    expect(await delivering).toEqual(RESULT);
    expect(await expecting).toEqual(RESULT);
  });

  it('accepts a new expectation for an id once the previous transfer finished', async () => {
    const inbox = new TransferInbox();
    const first = inbox.expect('t-1', reading([]), { timeoutMs: 1000 });
    await inbox.deliver('t-1', messagesOf('one'), 1000);
    await first;

    const read: string[] = [];
    const again = inbox.expect('t-1', reading(read), { timeoutMs: 1000 });
    await inbox.deliver('t-1', messagesOf('two'), 1000);
    expect(await again).toEqual(RESULT);
    expect(read).toEqual(['two']);
  });
});
