/**
 * The CLI dispatcher: finds the command, parses its options strictly with node:util
 * `parseArgs`, runs it, and turns every failure into one line on stderr and an exit status:
 * 1 for errors, 2 for usage errors, never a stack trace (TESSERA_DEBUG=1 shows one for bugs).
 */
import { parseArgs } from 'node:util';
import { isTesseraError } from '../errors.js';
import type { Command, ParsedArgs } from './command.js';
import { COMMANDS } from './commands/index.js';
import { UsageError, type CliIO } from './io.js';
import { tesseraVersion } from './version.js';

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: tessera <command> [options]

Tessera: macaroon capability tokens. Mint, attenuate offline, verify, revoke at once.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "tessera <command> --help" for a command's options.
Quick start: "tessera serve" in one terminal, then "tessera mint --caveat 'ops read'" in another.`;
}

function parse(command: Command, argv: readonly string[]): ParsedArgs & { help: boolean } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...command.options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    // node:util's messages name the option, never its value.
    const message = e instanceof Error ? e.message.split('. To specify a positional')[0] ?? e.message : 'bad arguments';
    throw new UsageError(message.replace(/\.$/, ''));
  }
  const help = parsed.values.help === true;
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  if (!help && parsed.positionals.length > max) {
    throw new UsageError(max === 0 ? `${command.name} takes no arguments` : `${command.name} takes at most ${max} argument${max === 1 ? '' : 's'}`);
  }
  if (!help && parsed.positionals.length < min) throw new UsageError(`${command.name} needs ${min} argument${min === 1 ? '' : 's'}`);
  return { values: parsed.values, positionals: parsed.positionals, help };
}

/** Run the CLI with `argv` (without node and script); resolves with the exit status. */
export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.out(topic?.help ?? overview());
    return 0;
  }
  if (name === '--version' || name === '-V') {
    io.out(`tessera ${tesseraVersion()}`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  try {
    if (command === undefined) throw new UsageError(`unknown command "${name.slice(0, 40)}"; run "tessera --help" for the list`);
    const args = parse(command, rest);
    if (args.help) {
      io.out(command.help);
      return 0;
    }
    return (await command.run(args, io)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`error: ${e.message} (${e.code})`);
      if (command !== undefined) io.err(`run "tessera ${command.name} --help" for usage`);
      return 2;
    }
    if (isTesseraError(e)) {
      io.err(`error: ${e.message} (${e.code})`);
      const { caveat, field } = e.details;
      if (typeof caveat === 'string') io.err(`  caveat: ${caveat}`);
      else if (typeof field === 'string' && !e.message.includes(field)) io.err(`  field: ${field}`);
      return 1;
    }
    io.err(`error: unexpected failure (${e instanceof Error ? e.name : typeof e}); set TESSERA_DEBUG=1 for details`);
    if (io.env.TESSERA_DEBUG === '1' && e instanceof Error && e.stack !== undefined) io.err(e.stack);
    return 1;
  }
}
