// The REST API's contract: the JSON the master sends, the bodies it accepts and the closed code sets. Types and
// constant lists only, so the web UI can import it (as types) and the master and the CLI share one description.
export * from './codes.js';
export type * from './containers.js';
export type * from './errors.js';
export type * from './events.js';
export * from './migrations.js';
export type * from './requests.js';
export type * from './workers.js';
