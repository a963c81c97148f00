/**
 * What makes the CLI a package people install: `--version`, shell completion scripts made from
 * the command table (each must parse in its shell), and relative times beside absolute ones.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/commands/index.js';
import { when, type CliIO } from '../src/cli/io.js';
import { run } from '../src/cli/run.js';

async function cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), readStdin: async () => undefined, env: {}, cwd: process.cwd(), stopSignal: () => new Promise(() => undefined) };
  const code = await run(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const hasShell = (shell: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${shell}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

describe('tessera --version', () => {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  it('prints the package version, as --version, -V and the version command', async () => {
    for (const args of [['--version'], ['-V'], ['version']]) expect(await cli(args)).toEqual({ code: 0, out: `tessera ${version}`, err: '' });
    expect(JSON.parse((await cli(['version', '--json'])).out)).toEqual({ version, node: process.versions.node });
  });
});

describe('tessera completion', () => {
  it('lists every command, and every option of a command after it', async () => {
    const bash = await cli(['completion', 'bash']);
    expect(bash.code).toBe(0);
    for (const c of COMMANDS) expect(bash.out).toContain(` ${c.name}`);
    expect(bash.out).toMatch(/mint\) opts="[^"]*--caveat[^"]*--ttl/);
    expect(bash.out).toMatch(/users\) opts="add passwd list remove /);
    const fish = (await cli(['completion', 'fish'])).out;
    expect(fish).toContain("complete -c tessera -n '__fish_seen_subcommand_from revoke' -l reason");
    expect((await cli(['completion', 'zsh'])).out).toMatch(/^#compdef tessera/);
    expect(await cli(['completion', 'powershell'])).toMatchObject({ code: 2, err: expect.stringContaining('completion is for bash, zsh, fish') });
  });

  it('bash script parses (bash -n) and completes in a real bash', async () => {
    const script = (await cli(['completion', 'bash'])).out;
    execFileSync('bash', ['-n'], { input: script });
    const probe = `${script}\nCOMP_WORDS=(tessera mi); COMP_CWORD=1; _tessera; echo "\${COMPREPLY[*]}"\nCOMP_WORDS=(tessera revoke --re); COMP_CWORD=2; _tessera; echo "\${COMPREPLY[*]}"`;
    expect(execFileSync('bash', ['-c', probe], { encoding: 'utf8' }).trim().split('\n')).toEqual(['mint', '--reason']);
  });

  it.runIf(hasShell('zsh'))('zsh script parses (zsh -n)', async () => {
    execFileSync('zsh', ['-n'], { input: (await cli(['completion', 'zsh'])).out });
  });

  it.runIf(hasShell('fish'))('fish script parses (fish -n)', async () => {
    execFileSync('fish', ['-n', '-c', (await cli(['completion', 'fish'])).out]);
  });
});

describe('relative times', () => {
  const now = new Date('2026-12-02T12:00:00Z');
  it('puts how far away a time is beside it', () => {
    expect(when('2026-12-02T12:14:30Z', now)).toBe('2026-12-02T12:14:30Z (in 14 min.)');
    expect(when(new Date('2026-12-01T12:00:00Z'), now)).toBe('2026-12-01T12:00:00Z (yesterday)');
    expect(when('2026-12-02T11:59:58Z', now)).toBe('2026-12-02T11:59:58Z (2 sec. ago)');
    expect(when('2027-03-02T12:00:00Z', now)).toBe('2027-03-02T12:00:00Z (in 3 mo.)');
    expect(when('not a time', now)).toBe('not a time');
  });
});
