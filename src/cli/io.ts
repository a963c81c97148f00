/**
 * What a CLI command needs from its surroundings (so tests can run commands in-process), the
 * usage error, and small input helpers shared by the commands: tokens from an argument or
 * stdin, durations, the data directory, the server URL and the admin token.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TesseraError, isTesseraError } from '../errors.js';
import { parseDuration as parseDurationValue, type DurationBounds } from '../util/duration.js';
import { ADMIN_TOKEN_FILE, DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT } from '../server/defaults.js';
import type { Database, OpenDatabaseOptions } from '../storage/index.js';

export interface CliIO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** All of stdin as text, or undefined when stdin is a terminal. */
  readonly readStdin: () => Promise<string | undefined>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Resolves when the user asks the process to stop (SIGINT / SIGTERM), for `serve`. */
  readonly stopSignal: () => Promise<string>;
  /**
   * How commands open the local database (default: `openDatabase` of tessera/storage). A
   * program running several commands in-process can hand them a database it keeps open.
   */
  readonly openDatabase?: (options: OpenDatabaseOptions) => Promise<Database>;
}

/** A command line that cannot be run as given (exit status 2). */
export class UsageError extends TesseraError {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super('ERR_INVALID_ARGUMENT', message);
  }
}

const MAX_STDIN = 1024 * 1024;

/** The token (or other value) in `arg`, or on stdin when `arg` is absent or `-`. */
export async function readValue(arg: string | undefined, io: CliIO, what = 'token'): Promise<string> {
  if (arg !== undefined && arg !== '-') return arg.trim();
  const text = await io.readStdin();
  if (text === undefined) throw new UsageError(`give a ${what} as an argument, or pipe it on stdin`);
  if (text.length > MAX_STDIN) throw new UsageError(`the ${what} on stdin is too large`);
  const value = text.trim();
  if (value === '') throw new UsageError(`no ${what} on stdin`);
  return value;
}

/**
 * A duration option in whole seconds (`90`, `90s`, `15m`, `2h`, `7d`, `2w`): the one parser of
 * src/util/duration.ts, refused as a usage error with the same message the HTTP API gives.
 */
export function parseDuration(text: string, option: string, bounds: DurationBounds): number {
  try {
    return parseDurationValue(text, `--${option}`, bounds);
  } catch (e) {
    throw isTesseraError(e) ? new UsageError(e.message) : e;
  }
}

/** The data directory: --data-dir, TESSERA_DATA_DIR, or `.tessera` in the working directory. */
export function dataDirOf(option: string | undefined, io: CliIO): string {
  return resolve(io.cwd, option ?? io.env.TESSERA_DATA_DIR ?? DEFAULT_DATA_DIR);
}

/** The server URL: --url, TESSERA_URL, or the default local server. */
export function serverUrlOf(option: string | undefined, io: CliIO): string {
  const text = option ?? io.env.TESSERA_URL ?? `http://${DEFAULT_HOST}:${DEFAULT_PORT}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError('--url must be an http(s) URL, e.g. http://127.0.0.1:8470');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--url must be an http(s) URL');
  // Credentials in the URL would be echoed in error messages; the admin token is the credential.
  if (url.username !== '' || url.password !== '') throw new UsageError('--url must not contain a user name or password');
  return url.toString().replace(/\/+$/, '');
}

export type AdminTokenSource = 'option' | 'env' | 'file';

/** The admin token: --token, TESSERA_ADMIN_TOKEN, or `<data-dir>/admin-token`. */
export async function adminTokenOf(
  option: string | undefined,
  dataDir: string,
  io: CliIO,
): Promise<{ readonly token: string; readonly source: AdminTokenSource; readonly file: string }> {
  const file = join(dataDir, ADMIN_TOKEN_FILE);
  if (option !== undefined && option !== '') return { token: option.trim(), source: 'option', file };
  const env = io.env.TESSERA_ADMIN_TOKEN;
  if (env !== undefined && env.trim() !== '') return { token: env.trim(), source: 'env', file };
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (text !== '') return { token: text, source: 'file', file };
  } catch {
    // Fall through to the explanation below.
  }
  throw new TesseraError(
    'ERR_UNAUTHENTICATED',
    `no admin token: pass --token, set TESSERA_ADMIN_TOKEN, or run where ${file} exists (tessera serve writes it on first start)`,
  );
}

/** JSON for people: two-space indent, dates as ISO strings. */
export const pretty = (value: unknown): string => JSON.stringify(value, null, 2);

const RELATIVE_UNITS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 86_400_000],
  ['month', 30 * 86_400_000],
  ['week', 7 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1000],
];
// Made on first use: building it loads ICU's data (~20 ms), which most commands never need.
let relativeFormat: Intl.RelativeTimeFormat | undefined;

/** `time` for a person: the absolute UTC time and, beside it, how far away it is ("in 14 min."). */
export function when(time: string | Date, now: Date = new Date()): string {
  const date = typeof time === 'string' ? new Date(time) : time;
  if (Number.isNaN(date.getTime())) return String(time);
  const delta = date.getTime() - now.getTime();
  const [unit, size] = RELATIVE_UNITS.find(([, ms]) => Math.abs(delta) >= ms) ?? ['second', 1000];
  return `${date.toISOString().replace(/\.\d{3}Z$/, 'Z')} (${(relativeFormat ??= new Intl.RelativeTimeFormat('en', { numeric: 'auto', style: 'short' })).format(Math.trunc(delta / size), unit)})`;
}

/**
 * A time option: RFC 3339 (`2026-12-01T00:00:00Z`) or a duration meaning that long ago (`2h`,
 * `7d`), as the RFC 3339 text the HTTP API takes.
 */
export function timeOption(text: string, option: string, now: Date = new Date()): string {
  if (/^\d{4}-/.test(text)) {
    if (Number.isNaN(Date.parse(text))) throw new UsageError(`--${option} must be an RFC 3339 time (2026-12-01T00:00:00Z) or a duration ago (2h, 7d)`);
    return text;
  }
  return new Date(now.getTime() - parseDuration(text, option, { max: 100 * 366 * 86_400 }) * 1000).toISOString();
}

/** A table for a person: a header row and left-aligned columns. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}
