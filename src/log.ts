/**
 * The one logger of a Tessera server. `createSystem({ log })` (and `startServer`) hand it to
 * every part that writes a line: the HTTP error handler, the discharge routes, the approval
 * pages, background key reloads and revocation resyncs. Nothing logs to the console on its own,
 * so an application decides where lines go (or silences them) in one place.
 *
 * Lines never hold a secret (token, key, session, poll secret): callers log error codes and
 * secret-free messages only.
 *
 * `jsonLogger` writes each line as one JSON object (`{"time","level","msg",…}`) on one line,
 * for log pipelines (`tessera serve --log-format json`).
 */
import { invalidArgument } from './errors.js';

export interface Logger {
  /** A server-side failure (a bug, the database down): worth an operator's attention. */
  error(line: string): void;
  /** Something went wrong and was handled (a resync that will be retried). */
  warn(line: string): void;
  /** A routine event worth one line. */
  info(line: string): void;
}

/** A Logger, or one function that takes every line whatever its level. */
export type LogOption = Logger | ((line: string) => void);

/** The default: standard error for errors and warnings, standard output for the rest. */
export const consoleLogger: Logger = Object.freeze({
  error: (line: string) => console.error(line),
  warn: (line: string) => console.warn(line),
  info: (line: string) => console.info(line),
});

/** The Logger for a `log` option (default: the console). */
export function toLogger(log: LogOption | undefined): Logger {
  if (log === undefined) return consoleLogger;
  if (typeof log === 'function') return Object.freeze({ error: log, warn: log, info: log });
  const ok = typeof log === 'object' && log !== null && ['error', 'warn', 'info'].every((k) => typeof (log as unknown as Record<string, unknown>)[k] === 'function');
  if (!ok) throw invalidArgument('log must be a function or an object with error, warn and info functions', { field: 'log' });
  return log;
}

export type LogLevel = keyof Logger;

/** Extra fields of a JSON event: plain, secret-free values. */
export type LogFields = Readonly<Record<string, string | number | boolean | null>>;

/**
 * One event as one line of JSON: time (ISO 8601), level, the message (without the `tessera: [level:]`
 * prefix text lines carry), then `fields`. JSON.stringify escapes control characters, so a
 * message can never break the line in two.
 */
export function jsonLine(level: LogLevel, msg: string, fields: LogFields = {}, now: Date = new Date()): string {
  return JSON.stringify({ ...fields, time: now.toISOString(), level, msg: msg.replace(/^tessera: (?:(?:info|warning|warn|error): )?/, '') });
}

/** A Logger writing JSON lines (see `jsonLine`) through `write`. */
export function jsonLogger(write: (line: string) => void, clock: () => Date = () => new Date()): Logger {
  const at = (level: LogLevel) => (line: string) => write(jsonLine(level, line, {}, clock()));
  return Object.freeze({ error: at('error'), warn: at('warn'), info: at('info') });
}
