/** The CLI's HTTP client for the Tessera server: JSON in, JSON out, errors as TesseraErrors. */
import { TesseraError, isErrorCode, type ErrorDetails } from '../errors.js';

export interface ApiOptions {
  readonly url: string;
  /** The admin token (sent as `Authorization: Macaroon …`). */
  readonly token?: string;
  /** Give up after this many ms (default 15 s). */
  readonly timeoutMs?: number;
  /** Abandon the call (e.g. when the user stops a follow). */
  readonly signal?: AbortSignal;
}

/** Call the API; resolves with the JSON body of a 2xx answer, throws a TesseraError otherwise. */
export async function api<T = Record<string, unknown>>(options: ApiOptions, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token !== undefined) headers.authorization = `Macaroon ${options.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${options.url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: options.signal === undefined ? AbortSignal.timeout(options.timeoutMs ?? 15_000) : AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs ?? 15_000)]),
    });
  } catch (e) {
    if (options.signal?.aborted === true) throw options.signal.reason;
    const timedOut = e instanceof Error && e.name === 'TimeoutError';
    throw new TesseraError(
      'ERR_CONFIG',
      timedOut
        ? `the Tessera server at ${options.url} did not answer in time`
        : `cannot reach the Tessera server at ${options.url} (is it running? start it with "tessera serve", or point --url / TESSERA_URL at it)`,
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    throw new TesseraError('ERR_THIRD_PARTY', `the server at ${options.url} did not answer with JSON (HTTP ${res.status}); is --url a Tessera server?`);
  }
  if (res.ok) return json as T;
  const error = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error;
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${res.status}`;
  const details = typeof error?.details === 'object' && error.details !== null ? (error.details as ErrorDetails) : {};
  if (isErrorCode(error?.code)) throw new TesseraError(error.code, message, details);
  throw new TesseraError('ERR_THIRD_PARTY', `the server failed: ${message} (HTTP ${res.status}); see its log`);
}
