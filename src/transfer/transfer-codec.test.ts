import { describe, expect, it } from 'vitest';
import { PullResponse, PushRequest } from '../gen/dockation/v1/transfer.js';
import { TRANSFER_SERVICE } from './transfer-codec.js';

const { push, pull } = TRANSFER_SERVICE;

describe('transfer codec', () => {
  it('writes data messages byte for byte as the generated code does, for every length encoding', () => {
    for (const size of [0, 1, 127, 128, 16_383, 16_384, 1024 * 1024, 3 * 1024 * 1024 + 7]) {
      const data = Buffer.alloc(size, size % 251);
      const request: PushRequest = { body: { $case: 'data', value: data } };
      expect(push.requestSerialize(request).equals(Buffer.from(PushRequest.encode(request).finish()))).toBe(
        true,
      );
      const response: PullResponse = { body: { $case: 'data', value: data } };
      expect(
        pull.responseSerialize(response).equals(Buffer.from(PullResponse.encode(response).finish())),
      ).toBe(true);
    }
  });

  it('reads data messages as views of the received buffer, and every other message as the generated code does', () => {
    const data = Buffer.from('payload bytes');
    const wire = Buffer.from(PushRequest.encode({ body: { $case: 'data', value: data } }).finish());
    const decoded = push.requestDeserialize(wire);
    expect(decoded.body?.$case).toBe('data');
    const value = decoded.body?.$case === 'data' ? decoded.body.value : Buffer.alloc(0);
    expect(value.equals(data)).toBe(true);
    expect(value.buffer).toBe(wire.buffer);
    const header: PushRequest = { body: { $case: 'header', value: { grant: 'g', transferId: 't' } } };
    expect(push.requestDeserialize(push.requestSerialize(header))).toEqual(header);
    const trailer: PullResponse = { body: { $case: 'trailer', value: { sha256: 'ab', bytes: 5 } } };
    expect(pull.responseDeserialize(pull.responseSerialize(trailer))).toEqual(trailer);
    const pulled = pull.responseDeserialize(
      Buffer.from(PullResponse.encode({ body: { $case: 'data', value: data } }).finish()),
    );
    expect(pulled.body?.$case === 'data' && pulled.body.value.equals(data)).toBe(true);
  });
});
