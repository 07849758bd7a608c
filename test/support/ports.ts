// Free TCP ports for servers the tests and benches must name a port for (a master that keeps its port across a
// restart, PostgreSQL, a relay).
import { createServer } from 'node:net';

/** A port free on `address` right now (the kernel's pick for port 0). */
export function freePort(address = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, address, () => {
      const bound = server.address();
      server.close(() => {
        if (bound && typeof bound === 'object') resolve(bound.port);
        else reject(new Error(`no port on ${address}`));
      });
    });
  });
}
