/**
 * The shape of a CLI command, the option sets several commands share, and typed readers for
 * parsed option values. Each command lives in its own file under ./commands/ and is listed
 * once in ./commands/index.ts.
 */
import type { ParseArgsConfig } from 'node:util';
import type { CliIO } from './io.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
}

export interface Command {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full `--help` text (usage line, description, options, examples). */
  readonly help: string;
  readonly options: OptionSpec;
  /** How many positional arguments the command takes (default none). */
  readonly positionals?: { readonly min: number; readonly max: number };
  /** The words its first argument can be (`users add|list…`), for shell completion. */
  readonly actions?: readonly string[];
  /** Runs the command; resolves with the exit status (default 0). */
  run(args: ParsedArgs, io: CliIO): Promise<number | void>;
}

/** Options of commands that talk to a server. */
export const SERVER_OPTIONS: OptionSpec = {
  url: { type: 'string' },
  token: { type: 'string' },
  'data-dir': { type: 'string' },
};

export const SERVER_HELP = `Server options:
  --url <url>          Tessera server (default TESSERA_URL or http://127.0.0.1:8470)
  --token <token>      admin token (default TESSERA_ADMIN_TOKEN, else <data-dir>/admin-token)
  --data-dir <dir>     where to find admin-token (default TESSERA_DATA_DIR or ./.tessera)`;

export const str = (args: ParsedArgs, name: string): string | undefined => {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
};

export const strs = (args: ParsedArgs, name: string): readonly string[] => {
  const v = args.values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [];
};

export const bool = (args: ParsedArgs, name: string): boolean => args.values[name] === true;

export type { CliIO };
