/**
 * The one hono error handler every Tessera HTTP surface uses (`app.onError(onError)`), and the
 * matching 404 handler (`app.notFound(notFound)`).
 *
 * A TesseraError answers with `ERROR_STATUS[code]` and its `toJSON()` body (messages and details
 * are secret-free by convention). An HTTPException that carries its own response (as
 * `macaroonAuth` refusals do, with their WWW-Authenticate challenge) is answered with it; one
 * caused by a TesseraError answers as that error; other client-side ones become a TesseraError
 * of the closest code. Anything else is a bug: the client gets a generic 500 with
 * no message or stack, and the log gets the route and the stack frames but never the error's
 * message, which might quote request data.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { TesseraError, type ErrorCode } from '../errors.js';

/** Code of the generic body sent for unexpected failures. */
const INTERNAL_ERROR_CODE: ErrorCode = 'ERR_INTERNAL';

/** Where unexpected errors are logged (replaceable in tests). */
type ErrorLogger = (line: string) => void;

let log: ErrorLogger = (line) => console.error(line);

/** Replace the logger for unexpected errors; returns the previous one. */
export function setErrorLogger(logger: ErrorLogger): ErrorLogger {
  const previous = log;
  log = logger;
  return previous;
}

const fromHttpException = (e: HTTPException): TesseraError => {
  const code: ErrorCode = e.status === 413 ? 'ERR_LIMIT' : e.status === 401 ? 'ERR_UNAUTHENTICATED' : e.status === 403 ? 'ERR_FORBIDDEN' : e.status === 404 ? 'ERR_NOT_FOUND' : 'ERR_BAD_REQUEST';
  const message = code === 'ERR_LIMIT' ? 'request body is too large' : code === 'ERR_BAD_REQUEST' ? 'bad request' : code === 'ERR_NOT_FOUND' ? 'not found' : code === 'ERR_FORBIDDEN' ? 'forbidden' : 'authentication required';
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

export function onError(err: unknown, c: Context): Response {
  if (err instanceof HTTPException && err.status < 500) {
    if (err.res !== undefined) return err.getResponse();
    if (err.cause instanceof TesseraError) return c.json(err.cause.toJSON(), err.cause.status as ContentfulStatusCode);
  }
  const e = err instanceof HTTPException && err.status < 500 ? fromHttpException(err) : err;
  const route = `${c.req.method} ${c.req.routePath}`;
  if (!(e instanceof TesseraError) && clientHungUp(err, c)) {
    log(`tessera: info: ${route}: the client closed the connection before the request was complete`);
    return c.json(new TesseraError('ERR_BAD_REQUEST', 'the request ended early').toJSON(), 400);
  }
  if (e instanceof TesseraError) {
    // Server-side failures are worth a log line; their messages are secret-free by convention.
    if (e.status >= 500) log(`tessera: ${route}: ${e.code}: ${e.message}`);
    return c.json(e.toJSON(), e.status as ContentfulStatusCode);
  }
  const name = err instanceof Error ? err.name : typeof err;
  const frames = framesOf(err);
  log(`tessera: unexpected ${name} in ${route}${frames === '' ? '' : `\n${frames}`}`);
  return c.json(new TesseraError(INTERNAL_ERROR_CODE, 'internal server error').toJSON(), 500);
}

export function notFound(c: Context): Response {
  return c.json(new TesseraError('ERR_NOT_FOUND', 'no such route').toJSON(), 404);
}
