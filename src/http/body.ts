/**
 * Strict reading of JSON request bodies: a bounded body, a plain object, only known fields,
 * each of the expected type and size. Every failure is ERR_INVALID_ARGUMENT (ERR_LIMIT for sizes)
 * naming the field, and never quotes the value (it may be a token).
 */
import type { Context } from 'hono';
import { TesseraError, invalidArgument, limit } from '../errors.js';
import { parseDuration, type DurationBounds } from '../util/duration.js';

/** Default cap on a JSON request body, in bytes. */
const MAX_JSON_BODY = 64 * 1024;

export type JsonObject = { readonly [key: string]: unknown };

/** A request that is not acceptable: ERR_INVALID_ARGUMENT naming the field. */
export const badRequest = (message: string, field?: string): TesseraError =>
  invalidArgument(message, field === undefined ? {} : { field });

const isPlainObject = (v: unknown): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/**
 * The request body, refused as soon as it passes `maxBytes`: a declared Content-Length is
 * checked first, and a chunked body is read only up to the bound, never buffered whole.
 * (Exported for bodies that are not one JSON object, e.g. JSON-RPC batches in src/mcp.)
 */
export async function readBounded(c: Context, maxBytes: number): Promise<Uint8Array> {
  const tooLarge = (): TesseraError => limit(`request body is larger than ${maxBytes} bytes`, { field: 'body' });
  if (Number(c.req.header('content-length') ?? '0') > maxBytes) throw tooLarge();
  const stream = c.req.raw.body;
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * The request's JSON body as a plain object with no fields outside `allowed`. An empty body
 * counts as `{}` when `emptyOk`.
 */
export async function readJsonObject(
  c: Context,
  allowed: readonly string[],
  options: { readonly maxBytes?: number; readonly emptyOk?: boolean } = {},
): Promise<JsonObject> {
  const buffer = await readBounded(c, options.maxBytes ?? MAX_JSON_BODY);
  if (buffer.byteLength === 0 && options.emptyOk === true) return {};
  const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw badRequest('request body must be JSON (Content-Type: application/json)', 'body');
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buffer));
  } catch {
    throw badRequest('request body is not valid JSON', 'body');
  }
  if (!isPlainObject(value)) throw badRequest('request body must be a JSON object', 'body');
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw badRequest(`unknown field ${JSON.stringify(key.slice(0, 64))}`, key.slice(0, 64));
  }
  return value;
}

/** A string field: required unless `optional`, 1..max characters. */
export function stringField(body: JsonObject, field: string, options: { readonly max: number; readonly optional: true }): string | undefined;
export function stringField(body: JsonObject, field: string, options: { readonly max: number; readonly optional?: false }): string;
export function stringField(body: JsonObject, field: string, options: { readonly max: number; readonly optional?: boolean }): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) {
    if (options.optional === true) return undefined;
    throw badRequest(`${field} is required`, field);
  }
  if (typeof v !== 'string' || v.length === 0) throw badRequest(`${field} must be a non-empty string`, field);
  if (v.length > options.max) throw limit(`${field} is longer than ${options.max} characters`, { field });
  return v;
}

/** A duration field (seconds, or text such as `15m`; see src/util/duration.ts), or undefined when absent. */
export function durationField(body: JsonObject, field: string, bounds: DurationBounds): number | undefined {
  const v = body[field];
  return v === undefined || v === null ? undefined : parseDuration(v, field, bounds);
}

/** A boolean field, or undefined when absent. */
export function booleanField(body: JsonObject, field: string): boolean | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${field} must be true or false`, field);
  return v;
}

/** An array of strings (each 1..maxLength), at most maxItems, or [] when absent. */
export function stringArrayField(body: JsonObject, field: string, maxItems: number, maxLength: number): readonly string[] {
  const v = body[field];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw badRequest(`${field} must be an array of strings`, field);
  if (v.length > maxItems) throw limit(`${field} has more than ${maxItems} items`, { field });
  return v.map((item: unknown, i) => {
    const name = `${field}[${i}]`;
    if (typeof item !== 'string' || item.length === 0) throw badRequest(`${name} must be a non-empty string`, name);
    if (item.length > maxLength) throw limit(`${name} is longer than ${maxLength} characters`, { field: name });
    return item;
  });
}

/** A nested plain object with only `allowed` keys, or undefined when absent. */
export function objectField(body: JsonObject, field: string, allowed: readonly string[]): JsonObject | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (!isPlainObject(v)) throw badRequest(`${field} must be a JSON object`, field);
  for (const key of Object.keys(v)) {
    if (!allowed.includes(key)) throw badRequest(`unknown field ${JSON.stringify(`${field}.${key.slice(0, 64)}`)}`, `${field}.${key.slice(0, 64)}`);
  }
  return v;
}

/**
 * The query parameters of a request: only `allowed` names, each at most once and at most
 * `maxLength` characters; anything else is refused naming the parameter.
 */
export function readQuery(c: Context, allowed: readonly string[], maxLength = 1024): Readonly<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [name, values] of Object.entries(c.req.queries())) {
    const shown = JSON.stringify(name.slice(0, 64));
    if (!allowed.includes(name)) throw badRequest(`unknown query parameter ${shown}`, name.slice(0, 64));
    if (values.length !== 1) throw badRequest(`query parameter ${shown} is given more than once`, name);
    const value = values[0] as string;
    if (value.length > maxLength) throw limit(`query parameter ${shown} is longer than ${maxLength} characters`, { field: name });
    out[name] = value;
  }
  return out;
}

/**
 * Form parameters, as the Go and Python bakeries send them: the URL query (Go's httprequest
 * puts "form" fields there, with an empty body) and an `application/x-www-form-urlencoded` body
 * (Python's requests), merged. Bounded body; only `allowed` names, each at most once across
 * both, each at most `maxChars` long after decoding; malformed percent-encoding or UTF-8 is
 * refused (URLSearchParams would quietly substitute U+FFFD).
 */
export async function readForm(
  c: Context,
  allowed: readonly string[],
  options: { readonly maxBytes: number; readonly maxChars: number },
): Promise<ReadonlyMap<string, string>> {
  const buffer = await readBounded(c, options.maxBytes);
  const sources: string[] = [];
  const url = c.req.url;
  const q = url.indexOf('?');
  if (q >= 0) sources.push(url.slice(q + 1));
  if (buffer.byteLength > 0) {
    const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') throw badRequest('request body must be a form (Content-Type: application/x-www-form-urlencoded)', 'body');
    try {
      sources.push(new TextDecoder('utf-8', { fatal: true }).decode(buffer));
    } catch {
      throw badRequest('request body is not valid UTF-8', 'body');
    }
  }
  const form = new Map<string, string>();
  for (const source of sources) {
    for (const pair of source.split('&')) {
      if (pair === '') continue;
      const eq = pair.indexOf('=');
      const name = formDecode(eq < 0 ? pair : pair.slice(0, eq), 'name');
      const value = formDecode(eq < 0 ? '' : pair.slice(eq + 1), name);
      const shown = JSON.stringify(name.slice(0, 64));
      if (!allowed.includes(name)) throw badRequest(`unknown field ${shown}`, name.slice(0, 64));
      if (form.has(name)) throw badRequest(`field ${shown} is given more than once`, name);
      if (value.length > options.maxChars) throw limit(`${name} is longer than ${options.maxChars} characters`, { field: name });
      form.set(name, value);
    }
  }
  return form;
}

function formDecode(text: string, field: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw badRequest(`${field === 'name' ? 'a field name' : field} is not valid form encoding`, field === 'name' ? 'body' : field);
  }
}
