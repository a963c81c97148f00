/**
 * `tessera completion bash|zsh|fish`: a shell completion script made from the command table,
 * so it always lists exactly the commands, actions and options this version has.
 */
import { UsageError } from '../io.js';
import type { Command } from '../command.js';

const SHELLS = ['bash', 'zsh', 'fish'] as const;
type Shell = (typeof SHELLS)[number];

const optionWords = (c: Command): string[] => [...Object.keys(c.options).map((o) => `--${o}`), '--help'];
const words = (c: Command): string => [...(c.actions ?? []), ...optionWords(c)].join(' ');

function bash(commands: readonly Command[]): string {
  const cases = commands.map((c) => `    ${c.name}) opts="${words(c)}" ;;`).join('\n');
  return `# tessera completion for bash: source <(tessera completion bash)
_tessera() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" opts
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${commands.map((c) => c.name).join(' ')} --help --version" -- "$cur"))
    return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
    *) opts="" ;;
  esac
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _tessera tessera
`;
}

function zsh(commands: readonly Command[]): string {
  const described = commands.map((c) => `    '${c.name}:${c.summary.replace(/'/g, "'\\''").replace(/:/g, '\\:')}'`).join('\n');
  const cases = commands.map((c) => `    ${c.name}) compadd -- ${words(c)} ;;`).join('\n');
  return `#compdef tessera
# tessera completion for zsh: source <(tessera completion zsh), or save as _tessera in $fpath
_tessera() {
  local -a commands
  commands=(
${described}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  case "\${words[2]}" in
${cases}
  esac
  _files
}
if [ "$funcstack[1]" = "_tessera" ]; then
  _tessera "$@"
else
  compdef _tessera tessera
fi
`;
}

function fish(commands: readonly Command[]): string {
  const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const lines = ['# tessera completion for fish: tessera completion fish | source', 'complete -c tessera -n __fish_use_subcommand -l help -l version'];
  for (const c of commands) {
    lines.push(`complete -c tessera -f -n __fish_use_subcommand -a ${c.name} -d ${quote(c.summary)}`);
    const when = `-n ${quote(`__fish_seen_subcommand_from ${c.name}`)}`;
    for (const a of c.actions ?? []) lines.push(`complete -c tessera -f ${when} -a ${a}`);
    for (const o of optionWords(c)) lines.push(`complete -c tessera ${when} -l ${o.slice(2)}`);
  }
  return `${lines.join('\n')}\n`;
}

const SCRIPTS: Readonly<Record<Shell, (commands: readonly Command[]) => string>> = { bash, zsh, fish };

/** The command, given a late view of the command table it completes (which lists it too). */
export function completion(commands: () => readonly Command[]): Command {
  return {
    name: 'completion',
    summary: 'print a shell completion script (bash, zsh or fish)',
    help: `Usage: tessera completion bash|zsh|fish

Prints a completion script for the shell. To use it:
  bash   echo 'source <(tessera completion bash)' >> ~/.bashrc
  zsh    echo 'source <(tessera completion zsh)' >> ~/.zshrc
  fish   tessera completion fish > ~/.config/fish/completions/tessera.fish

Options:
  -h, --help   show this help`,
    options: {},
    actions: SHELLS,
    positionals: { min: 1, max: 1 },
    async run(args, io) {
      const shell = args.positionals[0] as Shell;
      if (!SHELLS.includes(shell)) throw new UsageError(`completion is for ${SHELLS.join(', ')}, not "${String(shell).slice(0, 20)}"`);
      io.out(SCRIPTS[shell](commands()).trimEnd());
    },
  };
}
