// Serves the built web UI (bin/web) from the master's HTTP address: hashed assets cached for good, index.html
// for every page path of the single-page app, and a plain explanation when this build has no UI.
import { existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import { isApiPath, pathOf } from './admin-auth.js';

/** Besides the API, paths the UI never serves index.html for: probes, and missing hashed assets (a 404). */
const NOT_PAGES = ['/health', '/ready', '/metrics', '/assets/'];

/**
 * Where the built UI is: `web/` beside the bundled binary (bin/docker-migrate → bin/web), or the repository's
 * bin/web when running from source with tsx. Undefined when neither holds an index.html (`make build` skips it).
 */
export function findWebRoot(): string | undefined {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const candidate of [join(here, 'web'), resolve(here, '../../../bin/web')]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return undefined;
}

/**
 * Whether a request is a browser asking for a page of the app (rather than an API call or a file): browsers
 * navigating ask for text/html; scripts and curl keep getting the API's JSON 404.
 */
export function isPageRequest(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  if (!(request.headers.accept ?? '').includes('text/html')) return false;
  const path = pathOf(request.url);
  if (isApiPath(path) || NOT_PAGES.some((prefix) => path === prefix || path.startsWith(prefix))) return false;
  return true;
}

const NO_UI_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dockation</title></head>
<body><h1>Dockation</h1>
<p>This master was built without its web UI. Build it with <code>make build-full</code> and restart the master;
the REST API under <code>/api</code> works either way.</p></body></html>
`;

/**
 * Registers the UI's files when there is a built UI. One route per file (`wildcard: false`): the set is fixed by
 * the build, and unknown paths then reach the not-found handler, which answers page paths with index.html.
 */
export async function registerWebUi(app: FastifyInstance, webRoot: string | undefined): Promise<void> {
  if (webRoot === undefined) return;
  await app.register(fastifyStatic, {
    root: webRoot,
    prefix: '/',
    wildcard: false,
    index: false,
    cacheControl: false,
    setHeaders(res, path) {
      // Vite names assets by content hash: a changed file gets a new name, so the old one may be kept forever.
      // Judged by the path inside the UI folder, whatever folders the install itself sits in.
      const hashed = relative(webRoot, path).startsWith(`assets${sep}`);
      res.setHeader('Cache-Control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}

/** Answers a page request with the app's index.html (or the no-UI explanation). */
export function sendPage(reply: FastifyReply, webRoot: string | undefined): FastifyReply {
  reply.header('Cache-Control', 'no-cache');
  if (webRoot === undefined) return reply.code(404).type('text/html; charset=utf-8').send(NO_UI_PAGE);
  return reply.type('text/html; charset=utf-8').sendFile('index.html');
}

/** Content-Security-Policy of the UI: everything from this origin; inline styles only (React style props). */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');
