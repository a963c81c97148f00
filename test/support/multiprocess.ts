/**
 * Multi-process measurements on one PostgreSQL database, shared by the tests and the
 * benchmarks in test/bench/:
 *  - revocation propagation: this process (A) runs a server and revokes over HTTP; verifier
 *    processes (B) verify the token in a loop; the figure is the time from A's revoke
 *    response to B's first refusal (wall clock, same machine);
 *  - the `uses 1` race: N processes × C concurrent verifications of one `uses 1` token.
 * Each measurement runs on its own scratch database, dropped afterwards.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Macaroon } from '../../src/index.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { parseMasterKey } from '../../src/storage/index.js';
import { createScratchDatabase } from './scratch-database.js';
import { scriptArgs } from './script.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

type Reply = { type: string; id?: number; [key: string]: unknown };

export const wallNow = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A verifier process (test/support/verifier-worker.ts). */
export class VerifierProcess {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<string, (reply: Reply) => void>();
  readonly #early = new Map<string, Reply>();
  #nextId = 1;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (reply: Reply) => {
      const key = `${reply.type}:${reply.id ?? ''}`;
      const waiter = this.#waiting.get(key) ?? (reply.type === 'error' ? [...this.#waiting.values()][0] : undefined);
      if (waiter === undefined) this.#early.set(key, reply);
      else waiter(reply);
    });
  }

  static async start(databaseUrl: string, masterKeyHex: string): Promise<VerifierProcess> {
    const child = spawn(process.execPath, scriptArgs('verifier-worker', import.meta.url), {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: databaseUrl, TESSERA_MASTER_KEY: masterKeyHex },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const worker = new VerifierProcess(child);
    await worker.#wait('ready', undefined, 120_000);
    return worker;
  }

  newId(): number {
    return this.#nextId++;
  }

  send(message: Record<string, unknown>): void {
    this.#child.send(message);
  }

  /** The reply of `type` to request `id`. */
  #wait(type: string, id: number | undefined, timeoutMs: number): Promise<Reply> {
    const key = `${type}:${id ?? ''}`;
    const early = this.#early.get(key);
    if (early !== undefined) {
      this.#early.delete(key);
      return Promise.resolve(early);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(key);
        reject(new Error(`verifier process: no ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onExit = (code: number | null): void => reject(new Error(`verifier process exited (${code}) waiting for ${type}`));
      this.#child.once('exit', onExit);
      this.#waiting.set(key, (reply) => {
        clearTimeout(timer);
        this.#child.off('exit', onExit);
        this.#waiting.delete(key);
        if (reply.type === 'error') reject(new Error(`verifier process failed: ${String(reply.code)}`));
        else resolve(reply);
      });
    });
  }

  wait(type: string, id: number, timeoutMs = 10_000): Promise<Reply> {
    return this.#wait(type, id, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((r) => this.#child.once('exit', r));
    this.#child.send({ type: 'exit' });
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A scratch database with a server (process A) on it, and a shared master key. */
export async function withServer<T>(adminUrl: string, fn: (server: RunningServer, url: string, masterKeyHex: string) => Promise<T>): Promise<T> {
  const db = await createScratchDatabase(adminUrl, 'tessera_bench');
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-mp-'));
  const masterKeyHex = randomBytes(32).toString('hex');
  let server: RunningServer | undefined;
  try {
    server = await startServer({ port: 0, dataDir, databaseUrl: db.url, masterKey: parseMasterKey(masterKeyHex), log: () => undefined });
    return await fn(server, db.url, masterKeyHex);
  } finally {
    await server?.close();
    await db.drop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  }
}

export interface PropagationResult {
  /** Milliseconds from A's revoke response to B's first refusal, per round (negative: B refused before the response arrived). */
  readonly samples: readonly number[];
  /** Milliseconds from sending the revoke request to B's first refusal, per round. */
  readonly fromRequest: readonly number[];
}

/** Revoke over HTTP in this process, watch the refusal in another. */
export async function measurePropagation(adminUrl: string, options: { readonly rounds: number; readonly onRound?: (ms: number, i: number) => void }): Promise<PropagationResult> {
  return withServer(adminUrl, async (server, url, masterKeyHex) => {
    const b = await VerifierProcess.start(url, masterKeyHex);
    const samples: number[] = [];
    const fromRequest: number[] = [];
    try {
      for (let i = 0; i < options.rounds; i++) {
        const minted = await server.system.issuer.mint();
        // B holds an attenuation: revoking the identifier must kill it too.
        const held = Macaroon.decode(minted.token).addFirstPartyCaveat('time-before 2100-01-01T00:00:00Z').encode();
        const id = b.newId();
        b.send({ type: 'watch', id, token: held });
        await b.wait('watching', id);
        const refused = b.wait('refused', id, 10_000);
        await sleep(5 + Math.random() * 20); // decorrelate from B's loop
        const sent = wallNow();
        const res = await fetch(`${server.url}/v1/tokens/revoke`, {
          method: 'POST',
          headers: { authorization: `Macaroon ${server.adminToken as string}`, 'content-type': 'application/json' },
          body: JSON.stringify({ identifier: minted.identifier }),
        });
        const t0 = wallNow();
        if (res.status !== 200) throw new Error(`revoke answered ${res.status}`);
        await res.arrayBuffer();
        const reply = await refused;
        if (reply.code !== 'ERR_REVOKED') throw new Error(`verifier refused with ${String(reply.code)}, not ERR_REVOKED`);
        const ms = (reply.at as number) - t0;
        samples.push(ms);
        fromRequest.push((reply.at as number) - sent);
        options.onRound?.(ms, i);
      }
    } finally {
      await b.close();
    }
    return { samples, fromRequest };
  });
}

export interface RaceRound {
  /** Verifications that succeeded (must be exactly 1). */
  readonly ok: number;
  readonly exceeded: number;
  /** Any other outcome, by code (must be empty). */
  readonly other: Readonly<Record<string, number>>;
}

/** `processes` verifier processes each run `concurrency` verifications of one `uses 1` token at once. */
export async function raceUses(
  adminUrl: string,
  options: { readonly processes: number; readonly concurrency: number; readonly rounds: number; readonly onRound?: (r: RaceRound, i: number) => void },
): Promise<readonly RaceRound[]> {
  return withServer(adminUrl, async (server, url, masterKeyHex) => {
    const workers = await Promise.all(Array.from({ length: options.processes }, () => VerifierProcess.start(url, masterKeyHex)));
    const rounds: RaceRound[] = [];
    try {
      for (let i = 0; i < options.rounds; i++) {
        const minted = await server.system.issuer.mint({ caveats: ['uses 1'] });
        const ids = workers.map((w) => w.newId());
        workers.forEach((w, k) => w.send({ type: 'prepare', id: ids[k], token: minted.token }));
        await Promise.all(workers.map((w, k) => w.wait('prepared', ids[k] as number)));
        // Everyone at once.
        workers.forEach((w, k) => w.send({ type: 'go', id: ids[k], concurrency: options.concurrency }));
        const replies = await Promise.all(workers.map((w, k) => w.wait('raced', ids[k] as number, 60_000)));
        const total: Record<string, number> = {};
        for (const r of replies) for (const [code, n] of Object.entries(r.counts as Record<string, number>)) total[code] = (total[code] ?? 0) + n;
        const { ok = 0, ERR_USAGE_EXCEEDED: exceeded = 0, ...other } = total;
        const round = { ok, exceeded, other };
        rounds.push(round);
        options.onRound?.(round, i);
      }
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
    return rounds;
  });
}

export { percentile } from './latency.js';

