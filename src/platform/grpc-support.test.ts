// Errors keep their code, message, hint, reason and details across a gRPC call; listen and peer addresses read as people expect.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { fromGrpcError, grpcBindAddress, peerHost, toGrpcError } from './grpc-support.js';

const HINT = 'copy the join command again from the master … or ask an admin';

/** A one-method service over raw bytes, so errors can cross a real HTTP/2 connection without generated code. */
const FAILING_SERVICE = {
  fail: {
    path: '/test.Failing/Fail',
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (value: Buffer) => value,
    responseSerialize: (value: Buffer) => value,
    responseDeserialize: (value: Buffer) => value,
  },
} satisfies grpc.ServiceDefinition;

describe('toGrpcError and fromGrpcError', () => {
  it('keep the code, message and a non-ASCII hint', () => {
    const original = new AppError('permission_denied', 'the enrollment token is not valid', { hint: HINT });
    const back = fromGrpcError(toGrpcError(original), 'enrollment failed');

    expect(back).toBeInstanceOf(AppError);
    expect(back.code).toBe('permission_denied');
    expect(back.message).toBe('enrollment failed: the enrollment token is not valid');
    expect(back.hint).toBe(HINT);
  });

  it('give the gRPC status matching the code', () => {
    expect(toGrpcError(new AppError('not_found', 'gone')).code).toBe(grpc.status.NOT_FOUND);
    expect(toGrpcError(new AppError('unauthenticated', 'who?')).code).toBe(grpc.status.UNAUTHENTICATED);
    expect(toGrpcError(new Error('boom')).code).toBe(grpc.status.INTERNAL);
  });

  it('pass an AppError through unchanged', () => {
    const error = new AppError('conflict', 'name taken');
    expect(fromGrpcError(error, 'enrollment failed')).toBe(error);
  });

  it('read a plain grpc-js error without our trailers by its status', () => {
    const unavailable = Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
      code: grpc.status.UNAVAILABLE,
      details: 'No connection established',
      metadata: new grpc.Metadata(),
    });
    const error = fromGrpcError(unavailable, 'cannot reach the master');
    expect(error.code).toBe('unavailable');
    expect(error.message).toBe('cannot reach the master: No connection established');
    expect(error.hint).toBeUndefined();
    expect(error.cause).toBe(unavailable);

    const withoutMetadata = { code: grpc.status.UNAVAILABLE, details: 'connection reset' };
    expect(fromGrpcError(withoutMetadata, 'lost').code).toBe('unavailable');
    expect(fromGrpcError({ code: grpc.status.DEADLINE_EXCEEDED, details: 'late' }, 'x').code).toBe(
      'deadline_exceeded',
    );
    expect(fromGrpcError({ code: grpc.status.UNKNOWN, details: 'handler threw' }, 'x').code).toBe('internal');
  });

  it('ignore a code in the trailers that is not one of ours', () => {
    const metadata = new grpc.Metadata();
    metadata.set('dm-error-code', 'exploded');
    const error = fromGrpcError({ code: grpc.status.NOT_FOUND, details: 'no such worker', metadata }, 'x');
    expect(error.code).toBe('not_found');
  });

  describe('over a real connection', () => {
    let server: grpc.Server;
    let client: grpc.Client & {
      fail: (request: Buffer, callback: (error: grpc.ServiceError | null) => void) => void;
    };
    let failWith: unknown;

    beforeAll(async () => {
      server = new grpc.Server();
      server.addService(FAILING_SERVICE, {
        fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
          callback(toGrpcError(failWith));
        },
      });
      const port = await new Promise<number>((resolve, reject) => {
        server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => {
          if (error) reject(error);
          else resolve(bound);
        });
      });
      const Client = grpc.makeGenericClientConstructor(FAILING_SERVICE, 'Failing');
      client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as typeof client;
    });

    afterAll(() => {
      client.close();
      server.forceShutdown();
    });

    function call(): Promise<AppError> {
      return new Promise((resolve, reject) => {
        client.fail(Buffer.alloc(0), (error) => {
          if (error) resolve(fromGrpcError(error, 'the call failed'));
          else reject(new Error('the call succeeded'));
        });
      });
    }

    it('keep the code, a non-ASCII message and hint', async () => {
      failWith = new AppError('failed_precondition', 'volume « données » is in use…', { hint: HINT });
      const error = await call();
      expect(error.code).toBe('failed_precondition');
      expect(error.message).toBe('the call failed: volume « données » is in use…');
      expect(error.hint).toBe(HINT);
    });

    it('keep the reason and the structured details', async () => {
      failWith = new AppError('unavailable', 'this master does not lead; the leader is at [fd00::2]:9090', {
        reason: 'not_leader',
        details: { leader: '[fd00::2]:9090', note: 'données' },
      });
      const error = await call();
      expect(error.code).toBe('unavailable');
      expect(error.reason).toBe('not_leader');
      expect(error.details).toEqual({ leader: '[fd00::2]:9090', note: 'données' });
    });

    it('carry an unexpected error as internal, without a hint', async () => {
      failWith = new TypeError('cannot read properties of undefined');
      const error = await call();
      expect(error.code).toBe('internal');
      expect(error.message).toBe('the call failed: cannot read properties of undefined');
      expect(error.hint).toBeUndefined();
      expect(error.reason).toBeUndefined();
      expect(error.details).toBeUndefined();
    });
  });
});

describe('grpcBindAddress', () => {
  it('listens on every interface for a bare port', () => {
    expect(grpcBindAddress(':9090')).toBe('0.0.0.0:9090');
    expect(grpcBindAddress('9090')).toBe('0.0.0.0:9090');
    expect(grpcBindAddress(' :9090 ')).toBe('0.0.0.0:9090');
  });

  it('keeps an address that names its host', () => {
    expect(grpcBindAddress('127.0.0.1:0')).toBe('127.0.0.1:0');
    expect(grpcBindAddress('[::1]:9090')).toBe('[::1]:9090');
    expect(grpcBindAddress('localhost:9090')).toBe('localhost:9090');
  });
});

describe('peerHost', () => {
  it('reads the host of grpc-js peer strings', () => {
    expect(peerHost('ipv4:192.168.1.20:51234')).toBe('192.168.1.20');
    expect(peerHost('ipv6:[::1]:51234')).toBe('::1');
    expect(peerHost('ipv6:[::ffff:10.0.0.7]:443')).toBe('::ffff:10.0.0.7');
    expect(peerHost('10.0.0.7:443')).toBe('10.0.0.7');
  });
});
