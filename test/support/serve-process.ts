/**
 * A `tessera serve` child process, once it is ready: it has printed where it listens and
 * "Ctrl-C to stop" (printed after it listens for the signals, so a signal sent from then on
 * stops it cleanly). Shared by the tests and the benchmarks that start real servers.
 */
import type { ChildProcess } from 'node:child_process';

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything it printed so far, stdout and stderr. */
  output(): string;
  /** Send `signal` (unless it has exited); resolves with its exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Resolves once `child` (spawned with stdout and stderr piped) is serving; rejects if it exits
 * first, with what it printed. Killed after `timeoutMs` if still running, whatever happens.
 */
export function whenServing(child: ChildProcess, timeoutMs = 150_000): Promise<ServeProcess> {
  let out = '';
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  killer.unref();
  void exited.then(() => clearTimeout(killer));
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const url = /tessera: listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (url !== undefined && out.includes('tessera: Ctrl-C to stop')) {
        resolve({
          child,
          url,
          output: () => out,
          stop: async (signal = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    void exited.then((code) => reject(new Error(`serve exited (${code}) before it was ready: ${out.slice(0, 2000)}`)));
  });
}
