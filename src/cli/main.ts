#!/usr/bin/env node
/** The `tessera` executable: wires the CLI to this process (stdio, environment, signals). */
import { run } from './run.js';
import type { CliIO } from './io.js';

async function readStdin(): Promise<string | undefined> {
  if (process.stdin.isTTY) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += b.length;
    chunks.push(b);
    if (size > 2 * 1024 * 1024) break; // readValue refuses it as too large
  }
  return Buffer.concat(chunks).toString('utf8');
}

const io: CliIO = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  readStdin,
  env: process.env,
  cwd: process.cwd(),
  stopSignal: () =>
    new Promise((resolve) => {
      const stop = (signal: string): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        resolve(signal);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    }),
};

process.exitCode = await run(process.argv.slice(2), io);
