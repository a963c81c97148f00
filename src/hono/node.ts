/**
 * `tessera/hono/node`: `macaroonAuth` for @hono/node-server, reading the client IP from the TCP
 * peer. Kept apart from `tessera/hono` because `@hono/node-server/conninfo` is Node's only; the
 * portable middleware takes the reader as an option instead.
 *
 *   import { macaroonAuth } from 'tessera/hono/node';   // clientIp defaults to nodeClientIp
 */
import { getConnInfo } from '@hono/node-server/conninfo';
import type { MiddlewareHandler } from 'hono';
import { macaroonAuth as portableMacaroonAuth, type ClientIpReader, type MacaroonAuthOptions } from './index.js';

export * from './index.js';

/** The TCP peer's address as @hono/node-server reports it; undefined when not served by it (e.g. `app.request`). */
export const nodeClientIp: ClientIpReader = (c) => {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
};

/** `macaroonAuth` with `clientIp` defaulting to the TCP peer (`nodeClientIp`). */
export const macaroonAuth = (options: MacaroonAuthOptions): MiddlewareHandler =>
  portableMacaroonAuth(typeof options === 'object' && options !== null ? { ...options, clientIp: options.clientIp ?? nodeClientIp } : options);
