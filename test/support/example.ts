/**
 * Run an example (examples/<file>.ts) as a child process to completion, as a newcomer runs it
 * with `npx tsx examples/<file>.ts`, minus the transpiling: node runs this test run's compiled
 * module (./child-build.ts; tsx when there is none). `npx tsx` itself is covered once, by the
 * CLI test.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { nodeArgs } from './child-build.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface ExampleResult {
  /** The exit code; null when killed (the timeout). */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runExample(file: string, args: readonly string[] = [], timeoutMs = 110_000): Promise<ExampleResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...nodeArgs(`examples/${file}`), ...args], { cwd: ROOT, timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
    });
  });
}
