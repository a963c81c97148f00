/**
 * Several instances under load (#12): three `tessera serve` processes on one PostgreSQL, driven
 * on POST /v1/verify by a separate process (test/bench/verify-load.ts) for a fixed time. Mid-run
 * the bench revokes tokens on the second instance (the driver records when each instance
 * first refuses them) and sends SIGTERM to the third, which the driver's writer is minting on.
 * Prints throughput per instance, p50/p99 verify latency, the revocations' propagation under
 * load on the instances that stay up (target p99 < 250 ms), non-2xx answers (target 0: refusals are 200 `allowed: false`),
 * requests cut after they were sent (target 0: shutdown finishes in-flight requests), and
 * acknowledged mints missing afterwards (target 0).
 *
 *   DATABASE_URL=postgres://… npx tsx test/bench/scale-out.ts [seconds]   (default 6)
 *
 * Without DATABASE_URL it says so and skips (the embedded database is one process's).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { percentile } from '../support/latency.js';
import { createScratchDatabase } from '../support/scratch-database.js';
import { scriptArgs } from '../support/script.js';
import { whenServing, type ServeProcess } from '../support/serve-process.js';
import { fmt, printTable } from './verify.js';
import type { VerifyLoadConfig, VerifyLoadResult } from './verify-load.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DRIVER = scriptArgs('verify-load', import.meta.url);
/** The CLI next to this file's build (compiled: .bench/src/cli/main.js; else the sources via tsx). */
const CLI = scriptArgs('../../src/cli/main', import.meta.url);
const CONNECTIONS = 4;
const VICTIMS = 10;
const PROPAGATION_TARGET_MS = 250;

const wallNow = (): number => performance.timeOrigin + performance.now();
const sleepUntil = (t: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));

type Instance = ServeProcess;

const startServe = (env: Record<string, string | undefined>, dataDir: string): Promise<Instance> =>
  whenServing(spawn(process.execPath, [...CLI, 'serve', '--port', '0', '--data-dir', dataDir], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));

async function call(method: string, url: string, admin: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method, headers: { authorization: `Macaroon ${admin}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Start the driver; resolves once it has started, with its result to come. */
function startDriver(config: VerifyLoadConfig): Promise<{ result: Promise<VerifyLoadResult> }> {
  const child = spawn(process.execPath, [...DRIVER, JSON.stringify(config)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  return new Promise((started, failed) => {
    const result = new Promise<VerifyLoadResult>((resolve, reject) => {
      child.once('exit', (code) => {
        const last = out.trim().split('\n').at(-1) ?? '';
        if (code === 0) resolve(JSON.parse(last) as VerifyLoadResult);
        else reject(new Error(`load driver exited with ${code}`));
        failed(new Error(`load driver exited with ${code} before starting`));
      });
    });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('{"started":true}')) started({ result });
    });
  });
}

/** Run the benchmark; resolves to whether every target was met (true when skipped). */
export async function scaleOutBench(seconds = 6): Promise<boolean> {
  const adminUrl = process.env.DATABASE_URL;
  if (adminUrl === undefined || adminUrl === '') {
    console.log('scale-out under load: skipped (DATABASE_URL not set; needs PostgreSQL and several processes)');
    return true;
  }
  const scratch = await createScratchDatabase(adminUrl, 'tessera_bench');
  const dirs: string[] = [];
  let instances: Instance[] = [];
  try {
    const env = { ...process.env, TESSERA_ADMIN_TOKEN: undefined, TESSERA_URL: undefined, TESSERA_DATA_DIR: undefined, DATABASE_URL: scratch.url, TESSERA_MASTER_KEY: randomBytes(32).toString('hex') };
    for (let i = 0; i < 3; i++) dirs.push(await mkdtemp(join(tmpdir(), 'tessera-bench-scale-')));
    const started = await Promise.allSettled(dirs.map((d) => startServe(env, d)));
    instances = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const printed = instances.flatMap((i) => /first start: admin token[^\n]*\n(\S+)\n/.exec(i.output())?.slice(1, 2) ?? []);
    if (printed.length !== 1) throw new Error(`expected one admin token printed between the instances, got ${printed.length}`);
    const admin = printed[0] as string;
    const [first, second, third] = instances as [Instance, Instance, Instance];
    const mint = async (): Promise<{ token: string; identifier: string }> => {
      const minted = await call('POST', `${first.url}/v1/tokens`, admin, { caveats: ['ops read'], label: 'scale-out bench' });
      if (minted.status !== 201) throw new Error(`mint answered ${minted.status}`);
      return { token: minted.json.token as string, identifier: minted.json.identifier as string };
    };
    const steady = await mint();
    const victims = await Promise.all(Array.from({ length: VICTIMS }, mint));

    const durationMs = seconds * 1000;
    const driver = await startDriver({ urls: instances.map((i) => i.url), admin, token: steady.token, victims: victims.map((v) => v.token), connections: CONNECTIONS, durationMs, writerInstance: 2 });
    const t0 = performance.now();
    // Revocations on the second instance spread over 10–50 % of the run; SIGTERM to the third at 60 %.
    const acknowledgedAt: number[] = [];
    for (let n = 0; n < VICTIMS; n++) {
      await sleepUntil(t0 + durationMs * (0.1 + (0.4 * n) / VICTIMS));
      const revoked = await call('POST', `${second.url}/v1/tokens/revoke`, admin, { identifier: victims[n]?.identifier });
      if (revoked.status !== 200) throw new Error(`revoke answered ${revoked.status}`);
      acknowledgedAt.push(wallNow());
    }
    await sleepUntil(t0 + durationMs * 0.6);
    const sigtermAt = performance.now();
    let stoppingAfter = Number.NaN;
    third.child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('SIGTERM: stopping')) stoppingAfter = performance.now() - sigtermAt;
    });
    const stopped = third.stop().then((code) => ({ code, after: performance.now() - sigtermAt }));
    const result = await driver.result;
    const { code: exitCode, after: stoppedAfter } = await stopped;

    // Every mint the third instance acknowledged before it stopped is in the database.
    let lost = 0;
    for (const id of result.minted) if ((await call('GET', `${first.url}/v1/tokens/${encodeURIComponent(id)}`, admin)).status !== 200) lost++;

    // Propagation: revoke acknowledged on the second → first refusal on the first and the second
    // (the third stops mid-run: a refusal it learnt may go unobserved before it closes).
    const propagation = result.refusedAt.flatMap((row, n) =>
      row.slice(0, 2).map((at) => (at === null ? Number.POSITIVE_INFINITY : at - (acknowledgedAt[n] as number))),
    );
    const prop99 = percentile(propagation, 99);
    const non2xx = Object.entries(result.statuses).reduce((sum, [status, count]) => sum + (status.startsWith('2') ? 0 : count), 0);
    const met = prop99 < PROPAGATION_TARGET_MS && non2xx === 0 && result.cut === 0 && lost === 0;
    console.log(
      `scale-out: 3 serve processes on one PostgreSQL, POST /v1/verify from a separate process (${CONNECTIONS} keep-alive connections per instance, ${seconds} s); ${VICTIMS} revocations on the second at 10–50 %, SIGTERM to the third at 60 %; Node ${process.version}, load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs`,
    );
    printTable([
      ['instance', 'verifies/s', ''],
      ...result.answered.map((n, i) => [`${i + 1}${i === 2 ? ' (SIGTERM at 60 %)' : ''}`, fmt(n / result.seconds), '']),
    ]);
    const ms = (v: number): string => (Number.isFinite(v) ? `${fmt(v, 1)} ms` : 'never');
    printTable([
      ['measure', 'value', 'target', ''],
      ['verify latency p50 / p99', `${ms(percentile(result.latencies, 50))} / ${ms(percentile(result.latencies, 99))}`, '', ''],
      [`revocation propagation p50 / p99 (${propagation.length} samples)`, `${ms(percentile(propagation, 50))} / ${ms(prop99)}`, `p99 < ${PROPAGATION_TARGET_MS} ms`, prop99 < PROPAGATION_TARGET_MS ? 'PASS' : 'MISS'],
      ['non-2xx answers', String(non2xx), '0', non2xx === 0 ? 'PASS' : 'MISS'],
      ['requests cut after sending', String(result.cut), '0', result.cut === 0 ? 'PASS' : 'MISS'],
      [`acknowledged mints on the third missing (of ${result.minted.length})`, String(lost), '0', lost === 0 ? 'PASS' : 'MISS'],
      ['connections refused, retried elsewhere', String(result.refused), '', ''],
      [`third instance: exit status after SIGTERM (shutdown began after ${fmt(stoppingAfter)} ms, exit after ${fmt(stoppedAfter)} ms)`, String(exitCode), '0', exitCode === 0 ? 'PASS' : 'MISS'],
    ]);
    return met && exitCode === 0;
  } finally {
    await Promise.all(instances.map((i) => i.stop()));
    await scratch.drop().catch(() => undefined);
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** For `npm run bench` (test/bench/index.ts): throws when a target is missed. */
export async function run(): Promise<void> {
  if (!(await scaleOutBench())) throw new Error('scale-out target missed');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const seconds = Number(process.argv[2] ?? 6);
  scaleOutBench(Number.isFinite(seconds) && seconds >= 2 ? seconds : 6).then(
    (ok) => process.exit(ok ? 0 : 1),
    (e: unknown) => {
      console.error('scale-out failed:', e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
