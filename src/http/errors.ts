/**
 * The one hono error handler every Tessera HTTP surface uses (`app.onError(errorHandler(log))`,
 * or `onError`, which logs to the console), and the matching 404 handler (`app.notFound(notFound)`).
 *
 * A TesseraError answers with its status from `ERROR_STATUS` (./status.ts) and its `toJSON()` body (messages and details
 * are secret-free by convention). An HTTPException that carries its own response (as
 * `macaroonAuth` refusals do, with their WWW-Authenticate challenge) is answered with it; one
 * caused by a TesseraError answers as that error; other client-side ones become a TesseraError
 * of the closest code. Anything else is a bug: the client gets a generic 500 with
 * no message or stack, and the logger gets the route and the stack frames but never the error's
 * message, which might quote request data.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { TesseraError, type ErrorCode } from '../errors.js';
import { toLogger, type LogOption, type Logger } from '../log.js';
import { httpStatus } from './status.js';

/** Code of the generic body sent for unexpected failures. */
const INTERNAL_ERROR_CODE: ErrorCode = 'ERR_INTERNAL';

const fromHttpException = (e: HTTPException): TesseraError => {
  const code: ErrorCode = e.status === 413 ? 'ERR_LIMIT' : e.status === 401 ? 'ERR_UNAUTHENTICATED' : e.status === 403 ? 'ERR_FORBIDDEN' : e.status === 404 ? 'ERR_NOT_FOUND' : 'ERR_INVALID_ARGUMENT';
  const message = code === 'ERR_LIMIT' ? 'request body is too large' : code === 'ERR_INVALID_ARGUMENT' ? 'bad request' : code === 'ERR_NOT_FOUND' ? 'not found' : code === 'ERR_FORBIDDEN' ? 'forbidden' : 'authentication required';
  return new TesseraError(code, message);
};

/** Stack frames only: the first line of `stack` repeats the message. */
const framesOf = (e: unknown): string => {
  const stack = e instanceof Error && typeof e.stack === 'string' ? e.stack : '';
  return stack.split('\n').filter((line) => /^\s+at /.test(line)).slice(0, 12).join('\n');
};

/**
 * A client that closed its connection before its request was read (Node's "aborted" reset while
 * the body streams in) is no server fault: anyone can do it on a route that needs no credential,
 * so it must not flood the log with stacks or trip 5xx alarms.
 */
const clientHungUp = (err: unknown, c: Context): boolean =>
  c.req.raw.signal.aborted || (err instanceof Error && err.message === 'aborted' && (err as { code?: unknown }).code === 'ECONNRESET');

/** The error handler, writing server-side failures to `log` (the system's logger). */
export function errorHandler(log?: LogOption): (err: unknown, c: Context) => Response {
  const logger = toLogger(log);
  return (err, c) => answer(err, c, logger);
}

/** The error handler for an app of your own, logging to the console. */
export const onError: (err: unknown, c: Context) => Response = errorHandler();

function answer(err: unknown, c: Context, log: Logger): Response {
  if (err instanceof HTTPException && err.status < 500) {
    if (err.res !== undefined) return err.getResponse();
    if (err.cause instanceof TesseraError) return c.json(err.cause.toJSON(), httpStatus(err.cause));
  }
  const e = err instanceof HTTPException && err.status < 500 ? fromHttpException(err) : err;
  const route = `${c.req.method} ${c.req.routePath}`;
  if (!(e instanceof TesseraError) && clientHungUp(err, c)) {
    log.info(`tessera: info: ${route}: the client closed the connection before the request was complete`);
    return c.json(new TesseraError('ERR_INVALID_ARGUMENT', 'the request ended early').toJSON(), 400);
  }
  if (e instanceof TesseraError) {
    // Server-side failures are worth a log line; their messages are secret-free by convention.
    if (httpStatus(e) >= 500) log.error(`tessera: ${route}: ${e.code}: ${e.message}`);
    return c.json(e.toJSON(), httpStatus(e));
  }
  const name = err instanceof Error ? err.name : typeof err;
  const frames = framesOf(err);
  log.error(`tessera: unexpected ${name} in ${route}${frames === '' ? '' : `\n${frames}`}`);
  return c.json(new TesseraError(INTERNAL_ERROR_CODE, 'internal server error').toJSON(), 500);
}

export function notFound(c: Context): Response {
  return c.json(new TesseraError('ERR_NOT_FOUND', 'no such route').toJSON(), 404);
}
