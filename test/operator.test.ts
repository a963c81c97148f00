/**
 * What an operator reads back (#13): GET /v1/tokens and GET /v1/audit with their filters and
 * cursor pagination on PGlite and PostgreSQL, the `tokens list` and `audit` commands, and
 * `audit --follow` hearing an event that another process made (PostgreSQL).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/cli/run.js';
import type { CliIO } from '../src/cli/io.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { createSystem, type System } from '../src/server/system.js';
import { sql } from 'drizzle-orm';
import { AUDIT_CHANNEL, parseMasterKey, type Database } from '../src/storage/index.js';
import { runCli } from './support/cli.js';
import { POSTGRES_URL, seedDataDir, testBackends } from './support/databases.js';
import { createScratchDatabase } from './support/scratch-database.js';

type Json = Record<string, any>; // response bodies, read loosely in assertions

describe.each(testBackends('operator'))('listing on $name', (backend) => {
  let system: System;
  let database: Database;
  let admin: string;
  let now = new Date();
  const minted: { identifier: string; token: string; label: string }[] = [];

  const call = async (path: string, token = admin): Promise<{ status: number; json: Json }> => {
    const res = await system.app.request(path, { headers: { authorization: `Macaroon ${token}` } });
    return { status: res.status, json: (await res.json()) as Json };
  };

  beforeAll(async () => {
    database = await backend.open();
    system = await createSystem({ database, masterKey: parseMasterKey(randomBytes(32).toString('hex')), publicUrl: 'http://tessera.test', clock: () => now, log: () => undefined });
    admin = (await system.mintAdminToken()).token;
    for (const [label, subject, ttlSeconds] of [['reader', 'agent-1', undefined], ['writer', 'agent-2', 60], ['reader', 'agent-3', 5], ['deployer', 'agent-1', undefined]] as const) {
      const m = await system.issuer.mint({ label, subject, ...(ttlSeconds !== undefined ? { ttlSeconds } : {}), actor: 'admin:test' });
      minted.push({ identifier: m.identifier, token: m.token, label });
      now = new Date(now.getTime() + 1000); // distinct mint times
    }
    await system.issuer.revoke({ identifier: minted[3]!.identifier, reason: 'rotated out', actor: 'admin:test' });
    now = new Date(now.getTime() + 10_000); // the 5 s token has expired; the 60 s one has not
  });
  afterAll(() => system.close());

  it('lists tokens newest first with their state, never a token itself', async () => {
    const r = await call('/v1/tokens');
    expect(r.status).toBe(200);
    const apps = (r.json.tokens as Json[]).filter((t) => t.subject !== 'tessera-admin');
    expect(apps.map((t) => t.identifier)).toEqual(minted.map((m) => m.identifier).reverse());
    expect(apps.map((t) => t.state)).toEqual(['revoked', 'expired', 'active', 'active']);
    expect(apps[0]).toMatchObject({ label: 'deployer', subject: 'agent-1', expiresAt: null, revokedAt: expect.stringMatching(/^\d{4}-/) });
    const text = JSON.stringify(r.json);
    for (const m of minted) expect(text).not.toContain(m.token);
    expect(Object.keys(apps[0]!).sort()).toEqual(['createdAt', 'expiresAt', 'identifier', 'keyId', 'label', 'revokedAt', 'state', 'subject']);
  });

  it('filters by state, label, subject, key and mint time', async () => {
    const ids = async (query: string): Promise<string[]> => ((await call(`/v1/tokens?${query}`)).json.tokens as Json[]).map((t) => t.identifier as string);
    const [reader1, writer, reader2, deployer] = minted.map((m) => m.identifier);
    expect(await ids('state=active&label=reader')).toEqual([reader1]);
    expect(await ids('state=expired')).toEqual([reader2]);
    expect(await ids('state=revoked')).toEqual([deployer]);
    expect(await ids('label=reader')).toEqual([reader2, reader1]);
    expect(await ids('subject=agent-1')).toEqual([deployer, reader1]);
    const keyId = (await call('/v1/tokens?limit=1')).json.tokens[0].keyId as string;
    expect(await ids(`keyId=${keyId}&subject=agent-2`)).toEqual([writer]);
    expect(await ids('keyId=rk_nosuchkey')).toEqual([]);
    const writerAt = ((await call(`/v1/tokens?subject=agent-2`)).json.tokens[0].createdAt) as string;
    expect(await ids(`since=${writerAt}&label=reader`)).toEqual([reader2]);
    expect(await ids(`until=${writerAt}&label=reader`)).toEqual([reader1]);
  });

  it('pages with an opaque cursor, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await call(`/v1/tokens?limit=2${cursor !== undefined ? `&cursor=${cursor}` : ''}`);
      expect(r.status).toBe(200);
      seen.push(...(r.json.tokens as Json[]).map((t) => t.identifier as string));
      cursor = r.json.nextCursor as string | undefined;
      pages += 1;
    } while (cursor !== undefined && pages < 10);
    const all = ((await call('/v1/tokens')).json.tokens as Json[]).map((t) => t.identifier);
    expect(seen).toEqual(all);
    expect(pages).toBe(Math.floor(all.length / 2) + 1); // a full last page points at an empty one
  });

  it('refuses bad queries with 400 naming the parameter', async () => {
    const cases: [string, string][] = [
      ['/v1/tokens?state=dormant', 'state'],
      ['/v1/tokens?limit=0', 'limit'],
      ['/v1/tokens?limit=1001', 'limit'],
      ['/v1/tokens?limit=ten', 'limit'],
      ['/v1/tokens?since=yesterday', 'since'],
      ['/v1/tokens?cursor=not-a-cursor', 'cursor'],
      [`/v1/tokens?cursor=${Buffer.from('{"a":1}').toString('base64url')}`, 'cursor'],
      ['/v1/tokens?colour=blue', 'colour'],
      ['/v1/tokens?label=a&label=b', 'label'],
      ['/v1/audit?after=-1', 'after'],
      ['/v1/audit?wait=5s', 'wait'],
      ['/v1/audit?after=1&wait=2h', 'wait'],
      [`/v1/audit?after=1&cursor=${Buffer.from('[5]').toString('base64url')}`, 'cursor'],
    ];
    for (const [path, field] of cases) {
      const r = await call(path);
      expect(r.status, path).toBe(400);
      expect(r.json.error.details.field, path).toBe(field);
    }
  });

  it('needs tokens:read for tokens and audit:read for the audit log', async () => {
    const readOnly = (await system.issuer.mint({ purpose: 'admin', caveats: ['ops tokens:read', 'aud tessera-admin'] })).token;
    expect((await call('/v1/tokens', readOnly)).status).toBe(200);
    const refused = await call('/v1/audit', readOnly);
    expect(refused.status).toBe(403);
    expect(refused.json.error.details.caveat).toBe('ops tokens:read');
  });

  it('reads the audit log with its actor and channel, filtered and paged', async () => {
    const all = (await call('/v1/audit?limit=1000')).json.events as Json[];
    const ids = all.map((e) => e.id as number);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const revokeEvent = all.find((e) => e.action === 'revoke');
    expect(revokeEvent).toMatchObject({ actor: 'admin:test', channel: 'http-api', subject: minted[3]!.identifier, details: expect.objectContaining({ reason: 'rotated out' }) });
    expect(all.find((e) => e.actor === 'bootstrap')).toMatchObject({ action: 'mint', channel: 'system' });

    const about = (await call(`/v1/audit?token=${minted[3]!.identifier}`)).json.events as Json[];
    expect(about.map((e) => e.action)).toEqual(['revoke', 'mint']);
    expect(((await call('/v1/audit?action=mint&actor=admin:test')).json.events as Json[]).length).toBe(4);
    expect(((await call('/v1/audit?channel=system&action=revoke')).json.events as Json[]).length).toBe(0);
    const since = revokeEvent!.at as string;
    expect(((await call(`/v1/audit?since=${since}`)).json.events as Json[]).every((e) => e.at >= since)).toBe(true);
    expect(((await call(`/v1/audit?until=${since}&action=revoke`)).json.events as Json[]).length).toBe(0);

    const first = await call('/v1/audit?limit=2');
    const second = await call(`/v1/audit?limit=2&cursor=${first.json.nextCursor}`);
    expect([...first.json.events, ...second.json.events].map((e: Json) => e.id)).toEqual(ids.slice(0, 4));
    const after = await call(`/v1/audit?after=${ids.at(-1)}&limit=3`);
    expect(after.json.events.map((e: Json) => e.id)).toEqual([...ids].reverse().slice(1, 4));
  });

  it('a follow waits for the next event and wakes as soon as one is committed', async () => {
    const last = ((await call('/v1/audit?limit=1')).json.events as Json[])[0]!.id as number;
    const started = Date.now();
    const waiting = call(`/v1/audit?after=${last}&wait=30s`);
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(settled).toBe(false);
    // A wake that brings no new event (a late notification of an earlier one) keeps it waiting.
    await database.db.execute(sql`select pg_notify(${AUDIT_CHANNEL}, ${String(last)})`);
    await new Promise((r) => setTimeout(r, 100));
    expect(settled).toBe(false);
    const m = await system.issuer.mint({ label: 'while following', actor: 'admin:test' });
    const r = await waiting;
    expect(r.json.events.map((e: Json) => e.subject)).toEqual([m.identifier]);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

function memoryIo(stop: Promise<string>): CliIO & { out: (t: string) => void; lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (t) => lines.push(...t.split('\n')), err: (t) => errors.push(t), readStdin: async () => undefined, env: {}, cwd: process.cwd(), stopSignal: () => stop };
}

describe('tessera tokens list and tessera audit', () => {
  let server: RunningServer;
  let dataDir: string;
  let scratch: { url: string; drop(): Promise<void> } | undefined;
  const masterHex = randomBytes(32).toString('hex');

  beforeAll(async () => {
    dataDir = await seedDataDir(await mkdtemp(join(tmpdir(), 'tessera-operator-')));
    scratch = POSTGRES_URL === undefined ? undefined : await createScratchDatabase(POSTGRES_URL);
    server = await startServer({ port: 0, dataDir, databaseUrl: scratch?.url, masterKey: parseMasterKey(masterHex), log: () => undefined });
    await server.system.issuer.mint({ label: 'docs reader', subject: 'agent-7', ttlSeconds: 900, actor: 'admin:test' });
  });
  afterAll(async () => {
    await server.close();
    await scratch?.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  const cli = async (args: string[]): Promise<{ code: number; lines: string[]; errors: string[] }> => {
    const io = memoryIo(new Promise(() => undefined));
    const code = await run([...args, '--url', server.url, '--data-dir', dataDir], io);
    return { code, lines: io.lines, errors: io.errors };
  };

  it('tokens ls prints a table with relative times, or JSON', async () => {
    const table = await cli(['tokens', 'ls', '--label', 'docs reader']);
    expect(table.code, table.errors.join('\n')).toBe(0);
    expect(table.lines[0]).toMatch(/^IDENTIFIER\s+LABEL\s+SUBJECT\s+MINTED\s+EXPIRES\s+STATE\s+REVOKED$/);
    expect(table.lines[1]).toMatch(/^tsr1\.\S+\s+docs reader\s+agent-7\s+\S+Z \((now|\d+ sec\. ago)\)\s+\S+Z \(in 1[45] min\.\)\s+active\s+-$/);
    const json = JSON.parse((await cli(['tokens', 'list', '--state', 'revoked', '--json'])).lines.join('\n')) as Json;
    expect(json).toEqual({ tokens: [] });
    expect((await cli(['tokens', 'list', '--since', 'soon'])).code).toBe(2);
    expect((await cli(['tokens', 'list', '--state', 'dormant'])).errors[0]).toMatch(/state must be one of active, revoked, expired \(ERR_INVALID_ARGUMENT\)/);
  });

  it('audit prints events with actor and channel', async () => {
    const r = await cli(['audit', '--action', 'mint', '--limit', '5']);
    expect(r.code, r.errors.join('\n')).toBe(0);
    expect(r.lines.some((l) => /mint\s+admin:test via http-api\s+tsr1\./.test(l))).toBe(true);
    expect(r.lines.some((l) => /mint\s+bootstrap via system\s+tsa1\./.test(l))).toBe(true);
  });

  it.runIf(POSTGRES_URL !== undefined)('audit --follow prints an event made by another process (PostgreSQL)', { timeout: 90_000 }, async () => {
    let stop!: (signal: string) => void;
    const io = memoryIo(new Promise((resolve) => (stop = resolve)));
    const following = run(['audit', '--follow', '--json', '--action', 'mint', '--limit', '1', '--url', server.url, '--data-dir', dataDir], io);
    // Another process: `tessera admin-token` on the same database mints (and audits) an admin token.
    const other = await mkdtemp(join(tmpdir(), 'tessera-operator-other-'));
    try {
      const made = await runCli(['admin-token', '--data-dir', other], { env: { DATABASE_URL: scratch!.url, TESSERA_MASTER_KEY: masterHex } });
      expect(made.code, made.stderr).toBe(0);
      const identifier = /identifier (tsa1\.\S+)\./.exec(made.stderr)?.[1];
      expect(identifier).toBeDefined();
      const deadline = Date.now() + 30_000;
      while (!io.lines.some((l) => l.includes(identifier!)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      const event = io.lines.map((l) => JSON.parse(l) as Json).find((e) => e.subject === identifier);
      expect(event).toMatchObject({ action: 'mint', actor: 'bootstrap' });
    } finally {
      stop('SIGINT');
      expect(await following).toBe(0);
      await rm(other, { recursive: true, force: true });
    }
  });
});
