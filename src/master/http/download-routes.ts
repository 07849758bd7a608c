// Open routes a new host installs a worker from: GET /install.sh (the install script, naming this master) and
// GET /downloads/<file> (the release archives and SHA256SUMS). No token: like /health, they hold no secret.
import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';

import { AppError } from '../../core/errors.js';
import type { MasterContext } from '../master-context.js';
import { renderInstallScript, SUMS_FILE } from '../release-downloads.js';

export function registerDownloadRoutes(app: FastifyInstance, context: MasterContext): void {
  app.get('/install.sh', (request, reply) => {
    if (context.installScript === undefined) {
      throw new AppError('not_found', 'this master was built without the worker install script', {
        hint: 'build it with `make build` (the script is packaging/install-worker.sh)',
      });
    }
    // The address this request reached the master at is the one the new host can download from.
    const masterHttp = `${request.protocol}://${request.host}`;
    return reply
      .type('text/x-shellscript; charset=utf-8')
      .header('Cache-Control', 'no-store')
      .send(renderInstallScript(context.installScript, masterHttp, context.enrollment().masterUrl));
  });

  app.get<{ Params: { file: string } }>('/downloads/:file', (request, reply) => {
    const found = context.releases.file(request.params.file);
    if (found === undefined) {
      const offered = [...context.releases.archives().keys()];
      throw new AppError(
        'not_found',
        offered.length === 0
          ? 'this master serves no release archives'
          : `this master serves no file "${request.params.file}"`,
        {
          hint:
            offered.length === 0
              ? 'run `make release` on the master (or start it with --downloads-dir DIR holding the archives and SHA256SUMS)'
              : `it serves ${SUMS_FILE} and ${offered.join(', ')}`,
        },
      );
    }
    return reply
      .type(request.params.file === SUMS_FILE ? 'text/plain; charset=utf-8' : 'application/gzip')
      .header('Content-Length', found.size)
      .header('Cache-Control', 'no-cache')
      .send(createReadStream(found.path));
  });
}
