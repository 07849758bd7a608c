// JSON schemas of the REST API's path and query parameters; fastify validates them before any handler runs.

/** `:id` of a worker or container. */
export const ID_PARAMS = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1 } },
  required: ['id'],
} as const;

/** `?worker_id=` narrowing a cross-worker list or lookup to one worker. */
export const WORKER_FILTER = {
  type: 'object',
  properties: { worker_id: { type: 'string', minLength: 1 } },
} as const;

/** Most audit entries one page returns; the store caps at the same number. */
export const MAX_AUDIT_PAGE = 1000;
export const DEFAULT_AUDIT_PAGE = 100;

/** `?limit=&before=` of the audit log: a page size and the id to page back from. */
export const AUDIT_QUERY = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_AUDIT_PAGE, default: DEFAULT_AUDIT_PAGE },
    before: { type: 'integer', minimum: 1 },
  },
} as const;
