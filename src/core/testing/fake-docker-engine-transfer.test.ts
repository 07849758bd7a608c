// Runs the image transfer contract between two in-memory fakes, as the integration tier does between real engines.
import { describeImageTransferContract } from './docker-engine-contract.js';
import { FakeDockerEngine } from './fake-docker-engine.js';

describeImageTransferContract('between two fakes', () =>
  Promise.resolve({
    source: new FakeDockerEngine({ endpoint: 'fake://source' }),
    target: new FakeDockerEngine({ endpoint: 'fake://target' }),
    runLabel: 'docker-migrate.test-run',
  }),
);
