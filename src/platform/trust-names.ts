// Names written into certificates, shared by the master (which issues them) and workers (which check them).

/** Common name of the master's server certificate; workers check it instead of a host name they cannot know. */
export const MASTER_COMMON_NAME = 'docker-migrate-master';

/** URI subject-alternative name of a worker certificate. */
export function workerUri(workerId: string): string {
  return `urn:docker-migrate:worker:${workerId}`;
}
