// Images move between real engines as `docker save | docker load` would, streamed from one Engine API to the other.
import { describeImageTransferContract } from '../../src/core/testing/docker-engine-contract.js';
import { engineOverSocket, engineOverTls, newRunLabel, testDockerHost } from '../support/docker-hosts.js';

describeImageTransferContract('h1 over its unix socket to h2 over TCP with mutual TLS', () => {
  const h1 = testDockerHost(0);
  const h2 = testDockerHost(1);
  // Engines from DM_TEST_DOCKER_HOSTS have no TLS address: then both ends use their sockets.
  return Promise.resolve({
    source: engineOverSocket(h1),
    target: h2.tcp ? engineOverTls(h2) : engineOverSocket(h2),
    runLabel: newRunLabel(),
  });
});
