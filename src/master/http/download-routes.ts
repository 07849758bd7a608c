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
      throw new AppError(
        'not_found',
        'this master was built without the worker install script (packaging/install-worker.sh; `make build` copies it)',
      );
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
      // The HTTP error body has no hint field: what to do goes into the message a curl user reads.
      throw new AppError(
        'not_found',
        offered.length === 0
          ? 'this master serves no release archives: run `make release` where it runs, or start it with --downloads-dir DIR (a folder with the archives and SHA256SUMS)'
          : `this master serves no file "${request.params.file}": it serves ${SUMS_FILE} and ${offered.join(', ')}`,
        { details: { served: offered.length === 0 ? [] : [SUMS_FILE, ...offered] } },
      );
    }
    return reply
      .type(request.params.file === SUMS_FILE ? 'text/plain; charset=utf-8' : 'application/gzip')
      .header('Content-Length', found.size)
      .header('Cache-Control', 'no-cache')
      .send(createReadStream(found.path));
  });
}
