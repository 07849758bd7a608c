// grpc-js's log lines reach the product's logger as redacted warnings, and nothing of grpc-js reaches stderr raw.
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { grpcLogSink, routeGrpcLogs } from './grpc-logging.js';
import { createLogger } from './logger.js';

function capturedLogger(level = 'info') {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ level, format: 'json', destination });
  const lines = (): Record<string, unknown>[] =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, text: () => chunks.join('') };
}

/** Binds a second server to a port the first holds: grpc-js logs "No address added out of total 1 resolved". */
async function bindTwice(): Promise<string> {
  const first = new grpc.Server();
  const second = new grpc.Server();
  try {
    const port = await new Promise<number>((resolve, reject) => {
      first.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => {
        if (error) reject(error);
        else resolve(bound);
      });
    });
    return await new Promise<string>((resolve) => {
      second.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error) => {
        resolve(error?.message ?? 'bound');
      });
    });
  } finally {
    first.forceShutdown();
    second.forceShutdown();
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('grpc-js logging', () => {
  it('sends grpc-js’s error lines to the logger as warnings, and none to stderr', async () => {
    const { logger, lines } = capturedLogger();
    const stderr = vi.spyOn(process.stderr, 'write');
    const consoleError = vi.spyOn(console, 'error');
    routeGrpcLogs(logger);

    expect(await bindTwice()).toMatch(/^No address added out of total 1 resolved/);

    expect(consoleError).not.toHaveBeenCalled();
    expect(stderr).not.toHaveBeenCalled();
    const grpcLines = lines().filter((line) => line.component === 'grpc');
    expect(grpcLines.map((line) => [line.level, line.msg])).toEqual([
      [40, expect.stringMatching(/^No address added out of total 1 resolved/) as string],
    ]);
  });

  it('redacts secrets in grpc-js’s lines as every log line is', () => {
    const { logger, text } = capturedLogger();
    grpcLogSink(logger).error?.(
      'connecting to %s with Bearer %s',
      'https://admin:hunter2@master:9090',
      'tok-123',
    );
    expect(text()).toContain('connecting to https://admin:[redacted]@master:9090 with Bearer [redacted]');
    expect(text()).not.toContain('hunter2');
    expect(text()).not.toContain('tok-123');
  });

  it('drops grpc-js’s info and debug lines, even when the product logs at debug', () => {
    const { logger, lines } = capturedLogger('debug');
    const sink = grpcLogSink(logger);
    sink.info?.('Subchannel state change');
    sink.debug?.('resolving dns:master');
    expect(lines()).toEqual([]);
  });
});
