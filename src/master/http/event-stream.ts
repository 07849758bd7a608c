// One client's Server-Sent Events stream: a hello with every worker, the logged events after the client's
// Last-Event-ID when it gives one, then each new event with its id, with keep-alive pings.
import type { ResetEventJson } from '../../contract/index.js';
import type { Logger } from '../../platform/logger.js';
import { redactSecrets } from '../../platform/redact.js';
import type { EventLog, LoggedEvent } from '../event-log.js';
import type { WorkerRegistry } from '../worker-registry.js';
import { workerJson } from './api-json.js';

/** Proxies (nginx: 60 s) close connections idle for a minute; a comment line every 15 s keeps it busy. */
export const PING_INTERVAL_MS = 15_000;

/** Unsent bytes after which a client counts as stalled; its EventSource reconnects and gets a fresh hello. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/** Headers of the stream; `X-Accel-Buffering: no` stops nginx from holding events back in its buffer. */
export const EVENT_STREAM_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
} as const;

/** What the stream writes to; node's ServerResponse is one. */
export interface EventSink {
  readonly writableLength: number;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  once(event: 'close', listener: () => void): unknown;
}

/** Rows read at once while replaying. */
export const REPLAY_PAGE_SIZE = 500;

/** What a stream reads: the workers for its hello, the event log for the rest. */
export interface EventStreamSources {
  registry: Pick<WorkerRegistry, 'list'>;
  events: Pick<EventLog, 'subscribe' | 'read' | 'bounds'>;
}

export interface EventStreamOptions {
  logger: Logger;
  pingIntervalMs?: number;
  maxBufferedBytes?: number;
  /** The id of the last event the client saw (Last-Event-ID); absent: it starts with live events. */
  lastEventId?: number | undefined;
  replayPageSize?: number;
}

export interface EventStream {
  /** Ends the stream cleanly (master shutdown); the client sees the end and reconnects elsewhere or later. */
  close(): void;
}

/**
 * Frames one event, with its id when it has one. JSON.stringify never emits a raw newline, so `data` fits on one
 * line as SSE requires.
 */
export function formatEvent(name: string, data: unknown, id?: number): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Whether the log still holds every event after `lastEventId`; a reset's reason when it does not. */
function replayable(
  lastEventId: number,
  bounds: { oldest: number | undefined; latest: number | undefined },
): ResetEventJson | undefined {
  if (bounds.latest === undefined ? lastEventId > 0 : lastEventId > bounds.latest) {
    return {
      reason: 'unknown_id',
      message: `event ${lastEventId} is not one of this master's: fetch the current state again`,
    };
  }
  if (bounds.oldest !== undefined && lastEventId < bounds.oldest - 1) {
    return {
      reason: 'pruned',
      message: `the events after ${lastEventId} are no longer kept: fetch the current state again`,
    };
  }
  return undefined;
}

/**
 * Starts streaming to a sink whose headers are already written. The subscription and the ping timer live exactly
 * as long as the connection: both go when the client disconnects, when close() is called, or when the client
 * stops reading (buffered output above the limit), so that a vanished browser tab cannot hold memory.
 *
 * With `lastEventId`, the stream subscribes first and holds live events back, replays the stored events after that
 * id page by page, then sends what it held back, skipping ids it already sent: no event is lost between the replay
 * and the live events, none is sent twice. When the log cannot replay (the id was pruned, is of another database,
 * or the store fails), a `reset` event tells the client to refetch its state, and live events follow.
 */
export function openEventStream(
  sink: EventSink,
  sources: EventStreamSources,
  options: EventStreamOptions,
): EventStream {
  const maxBuffered = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  const pageSize = options.replayPageSize ?? REPLAY_PAGE_SIZE;
  let open = true;
  /** Live events held back while replaying; undefined once live. */
  let held: LoggedEvent[] | undefined = options.lastEventId === undefined ? undefined : [];
  /** The highest id sent: an event at or below it was sent by the replay already. */
  let lastSent = options.lastEventId ?? 0;

  function stop(): void {
    if (!open) return;
    open = false;
    held = undefined;
    clearInterval(ping);
    unsubscribe();
  }

  function send(text: string): void {
    if (!open || sink.destroyed || sink.writableEnded) return;
    sink.write(text);
    if (sink.writableLength > maxBuffered) {
      options.logger.warn(
        redactSecrets({ bufferedBytes: sink.writableLength }),
        'event stream client stopped reading; closing its stream',
      );
      stop();
      sink.destroy();
    }
  }

  /** Sends an event unless the replay did; an event the store refused (no id) is always sent. */
  function deliver(entry: LoggedEvent): void {
    if (entry.id !== undefined) {
      if (entry.id <= lastSent) return;
      lastSent = entry.id;
    }
    send(formatEvent(entry.event.type, entry.event.data, entry.id));
  }

  function reset(data: ResetEventJson, id: number | undefined): void {
    send(formatEvent('reset', data, id));
  }

  async function replay(afterId: number): Promise<void> {
    try {
      let page = await sources.events.read(afterId, pageSize);
      // Read after the first page: a prune between the two shows as a gap here rather than going unnoticed.
      const bounds = await sources.events.bounds();
      const lost = replayable(afterId, bounds);
      if (lost !== undefined) {
        // Ids up to the latest are part of the state the client refetches; its next reconnect asks from there.
        lastSent = bounds.latest ?? 0;
        reset(lost, lastSent);
        return;
      }
      for (;;) {
        for (const entry of page) deliver(entry);
        if (!open || page.length < pageSize) return;
        page = await sources.events.read(lastSent, pageSize);
      }
    } catch (error) {
      options.logger.warn({ err: error }, 'cannot replay live events; the client refetches its state');
      // The id the client gave cannot be checked: every live event goes out.
      lastSent = 0;
      reset(
        { reason: 'unavailable', message: 'the missed events cannot be read: fetch the current state again' },
        undefined,
      );
    }
  }

  // Subscribed before the hello and the replay: an event that happens meanwhile is held back, not lost.
  const unsubscribe = sources.events.subscribe((entry) => {
    if (held === undefined) deliver(entry);
    else held.push(entry);
  });
  const ping = setInterval(() => {
    send(': ping\n\n');
  }, options.pingIntervalMs ?? PING_INTERVAL_MS);
  ping.unref();
  sink.once('close', stop);
  send(formatEvent('hello', { workers: sources.registry.list().map(workerJson) }));
  if (options.lastEventId !== undefined) {
    void replay(options.lastEventId).finally(() => {
      const backlog = held ?? [];
      held = undefined;
      for (const entry of backlog) deliver(entry);
    });
  }

  return {
    close() {
      if (!open) return;
      stop();
      sink.end();
    },
  };
}
