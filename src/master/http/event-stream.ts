// One client's Server-Sent Events stream: a hello with every worker, then each registry event, with keep-alive pings.
import type { Logger } from '../../platform/logger.js';
import { redactSecrets } from '../../platform/redact.js';
import type { WorkerRegistry } from '../worker-registry.js';
import { eventJson, workerJson } from './api-json.js';

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

export interface EventStreamOptions {
  logger: Logger;
  pingIntervalMs?: number;
  maxBufferedBytes?: number;
}

export interface EventStream {
  /** Ends the stream cleanly (master shutdown); the client sees the end and reconnects elsewhere or later. */
  close(): void;
}

/** Frames one event. JSON.stringify never emits a raw newline, so `data` fits on one line as SSE requires. */
export function formatEvent(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Starts streaming to a sink whose headers are already written. The subscription and the ping timer live exactly
 * as long as the connection: both go when the client disconnects, when close() is called, or when the client
 * stops reading (buffered output above the limit), so that a vanished browser tab cannot hold memory.
 */
export function openEventStream(
  sink: EventSink,
  registry: WorkerRegistry,
  options: EventStreamOptions,
): EventStream {
  const maxBuffered = options.maxBufferedBytes ?? MAX_BUFFERED_BYTES;
  let open = true;

  function stop(): void {
    if (!open) return;
    open = false;
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

  // Subscribed before the hello is built: events are emitted synchronously, so none can fall between the two.
  const unsubscribe = registry.subscribe((event) => {
    const { type, data } = eventJson(event);
    send(formatEvent(type, data));
  });
  const ping = setInterval(() => {
    send(': ping\n\n');
  }, options.pingIntervalMs ?? PING_INTERVAL_MS);
  ping.unref();
  sink.once('close', stop);
  send(formatEvent('hello', { workers: registry.list().map(workerJson) }));

  return {
    close() {
      if (!open) return;
      stop();
      sink.end();
    },
  };
}
