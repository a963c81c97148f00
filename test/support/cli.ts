/** Run the `tessera` CLI from sources as a child process, as a user would (`tsx src/cli/main.ts`). */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = 'src/cli/main.ts';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The CLI with `args` (node + tsx loader, the same entry `npx tsx src/cli/main.ts` runs). */
export function spawnCli(args: readonly string[], options: { readonly env?: Record<string, string | undefined>; readonly cwd?: string } = {}): ChildProcess {
  const env = { ...process.env, TESSERA_ADMIN_TOKEN: undefined, TESSERA_URL: undefined, TESSERA_DATA_DIR: undefined, DATABASE_URL: undefined, ...options.env };
  return spawn(process.execPath, ['--import', 'tsx', `${ROOT}/${CLI}`, ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Run the CLI to completion (killed after `timeoutMs`). */
export function runCli(
  args: readonly string[],
  options: { readonly input?: string; readonly env?: Record<string, string | undefined>; readonly cwd?: string; readonly timeoutMs?: number } = {},
): Promise<CliResult> {
  const child = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  if (options.input !== undefined) child.stdin?.end(options.input);
  else child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** No stack traces: no "    at " frames and no internal error names. */
export const hasStackTrace = (text: string): boolean => /^\s+at /m.test(text) || /TypeError|ReferenceError|node:internal/.test(text);
