// Tracks connections that never carried a request, so that shutdown can drop them instead of waiting for them.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface SpareConnections {
  /** Destroys every open connection on which no request has started; nothing is in flight on those. */
  destroy(): void;
}

/**
 * Starts tracking. Browsers (and undici) open spare connections ahead of need; Node's server.close() closes idle
 * keep-alive connections but counts one that never sent a request as busy, so close() would wait until the
 * headers timeout (about a minute) before the master could exit.
 */
export function trackSpareConnections(server: Server): SpareConnections {
  const spare = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    spare.add(socket);
    socket.once('close', () => spare.delete(socket));
  });
  server.on('request', (request: { socket: Socket }) => {
    spare.delete(request.socket);
  });
  return {
    destroy() {
      for (const socket of spare) socket.destroy();
      spare.clear();
    },
  };
}
