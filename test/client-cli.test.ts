/**
 * `tessera discharge`: in-process with an injected fetch, and through the CLI dispatcher against
 * the discharge service served for real on 127.0.0.1.
 */
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDischargeCaveat } from '../src/client/index.js';
import { Macaroon } from '../src/index.js';
import { makeDischargeCommand } from '../src/cli/commands/discharge.js';
import type { CliIO } from '../src/cli/io.js';
import { run } from '../src/cli/run.js';
import { parseAuthorization } from '../src/hono/authorization.js';
import { incidentalBackend } from './support/databases.js';
import { ALICE, LOCATION, dischargeFixture, type DischargeFixture } from './support/discharge.js';

function testIo(stdin?: string): CliIO & { readonly stdout: string[]; readonly stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (t) => void stdout.push(t),
    err: (t) => void stderr.push(t),
    readStdin: async () => stdin,
    env: {},
    cwd: process.cwd(),
    stopSignal: () => new Promise(() => undefined),
  };
}

const approveSoon = (fx: DischargeFixture, url: string): void => {
  setTimeout(() => void fx.service.decide(url.split('/').pop() as string, ALICE, { approve: true }).catch(() => undefined), 50);
};

describe('tessera discharge (in-process)', () => {
  let fx: DischargeFixture;
  beforeAll(async () => {
    fx = await dischargeFixture(await incidentalBackend.open(), { recheckMs: 50 });
  });

  it('prints the approval URL, opens it with --open, waits, and prints the Authorization value', async () => {
    const token = addDischargeCaveat(fx.mint('tool deploy'), { location: LOCATION, publicKey: fx.service.publicKey, condition: 'approve alice deploy' });
    const opened: string[] = [];
    const command = makeDischargeCommand({ fetch: fx.fetch, open: (url) => (opened.push(url), approveSoon(fx, url)) });
    const io = testIo(`${token.encode()}\n`);
    expect(await command.run({ values: { open: true }, positionals: ['-'] }, io)).toBe(0);
    expect(opened).toHaveLength(1);
    expect(io.stderr[0]).toBe(`approval needed: ${opened[0]}`);
    expect(io.stdout).toHaveLength(1);
    const credential = parseAuthorization(io.stdout[0] as string, { maxHeaderLength: 16_384, maxDischarges: 32 });
    const verified = await fx.verifier.verify(credential.token, { discharges: credential.discharges, context: { tool: 'deploy' } });
    expect(verified.declared.get('approved-by')).toBe('alice');
  });

  it('--json prints the bundle', async () => {
    const token = addDischargeCaveat(fx.mint(), { location: LOCATION, publicKey: fx.service.publicKey, condition: 'approve alice look' });
    const command = makeDischargeCommand({ fetch: fx.fetch, open: () => undefined });
    const io = testIo();
    const approving = setInterval(async () => {
      for (const v of await fx.service.listPending(ALICE)) await fx.service.decide(v.id, ALICE, { approve: true }).catch(() => undefined);
    }, 100);
    try {
      expect(await command.run({ values: { json: true }, positionals: [token.encode()] }, io)).toBe(0);
    } finally {
      clearInterval(approving);
    }
    const bundle = JSON.parse(io.stdout[0] as string) as { authorization: string; token: string; discharges: string[] };
    expect(bundle.token).toBe(token.encode());
    expect(bundle.discharges).toHaveLength(1);
    expect(bundle.authorization).toBe(`Macaroon ${bundle.token},${bundle.discharges[0]}`);
  });

  it('a denial prints who denied it and why (--json: { status, reason, decidedBy }), exit 1; --reason reaches the approver', async () => {
    const denySoon = (url: string): void => {
      setTimeout(() => void fx.service.decide(url.split('/').pop() as string, ALICE, { approve: false, reason: 'not during the freeze' }).catch(() => undefined), 50);
    };
    const seen: string[] = [];
    const command = makeDischargeCommand({ fetch: fx.fetch, open: (url) => (seen.push(url), denySoon(url)) });
    const token = (): string => addDischargeCaveat(fx.mint(), { location: LOCATION, publicKey: fx.service.publicKey, condition: 'approve alice deploy' }).encode();

    const io = testIo();
    expect(await command.run({ values: { open: true, reason: 'hotfix for #123' }, positionals: [token()] }, io)).toBe(1);
    expect(io.stderr.at(-1)).toBe('error: denied by alice: not during the freeze (ERR_DENIED)');
    expect(io.stdout).toEqual([]);
    const asked = await fx.service.get(seen[0]!.split('/').pop() as string, ALICE);
    expect(asked?.requestReason).toBe('hotfix for #123');

    const json = testIo();
    expect(await command.run({ values: { open: true, json: true }, positionals: [token()] }, json)).toBe(1);
    expect(JSON.parse(json.stdout[0] as string)).toEqual({ status: 'denied', reason: 'not during the freeze', decidedBy: 'alice' });

    const bad = testIo();
    await expect(command.run({ values: { reason: 'line\nbreak' }, positionals: [token()] }, bad)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT', details: { field: 'reason' } });
  });
});

describe('tessera discharge: requests that expire', () => {
  let short: DischargeFixture;
  beforeAll(async () => {
    short = await dischargeFixture(await incidentalBackend.open(), { recheckMs: 50, requestTtlSeconds: 1 });
  });
  afterAll(() => short.service.close());

  it('says whether the request expired or the command timed out', async () => {
    const command = makeDischargeCommand({ fetch: short.fetch });
    const token = addDischargeCaveat(short.mint(), { location: LOCATION, publicKey: short.service.publicKey, condition: 'approve alice wait' }).encode();
    const expired = testIo();
    expect(await command.run({ values: { timeout: '20s' }, positionals: [token] }, expired)).toBe(1);
    expect(expired.stderr.at(-1)).toBe('error: the request expired before anyone decided (ERR_DENIED)');

    const timedOut = testIo();
    expect(await command.run({ values: { timeout: '1s', json: true }, positionals: [token] }, timedOut)).toBe(1);
    expect(JSON.parse(timedOut.stdout[0] as string)).toMatchObject({ status: 'timeout', reason: null, decidedBy: null, approvalUrls: [expect.stringContaining('/approve/requests/dr_')] });
  });
});

describe('tessera discharge (CLI over HTTP)', () => {
  let fx: DischargeFixture;
  let server: ServerType;
  let base: string;
  beforeAll(async () => {
    let app: Hono | undefined;
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: (req, env) => (app === undefined ? new Response('starting', { status: 503 }) : app.fetch(req, env)), hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) =>
        resolve(info.port),
      );
    });
    base = `http://127.0.0.1:${port}`;
    fx = await dischargeFixture(await incidentalBackend.open(), { location: base, recheckMs: 50 });
    app = fx.app;
  });
  afterAll(async () => {
    fx.service.close();
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    await new Promise((resolve) => server.close(resolve));
  });

  it('attenuate --third-party adds the approval caveat offline with the published key; the discharge then satisfies it', async () => {
    const io = testIo();
    const args = ['attenuate', fx.mint().encode(), '--caveat', 'tool deploy', '--third-party', base, '--condition', 'approve alice deploy web'];
    expect(await run(args, io)).toBe(0);
    const narrowed = Macaroon.decode(io.stdout[0] as string);
    expect(narrowed.caveats.map((c) => [c.thirdParty, c.thirdParty ? c.location : c.text])).toEqual([
      [false, 'tool deploy'],
      [true, base],
    ]);
    await expect(fx.verifier.verify(narrowed, { context: { tool: 'deploy' } })).rejects.toMatchObject({ code: 'ERR_DISCHARGE_MISSING' });

    const approving = setInterval(async () => {
      for (const v of await fx.service.listPending(ALICE)) await fx.service.decide(v.id, ALICE, { approve: true }).catch(() => undefined);
    }, 100);
    const discharged = testIo();
    try {
      expect(await run(['discharge', narrowed.encode()], discharged)).toBe(0);
    } finally {
      clearInterval(approving);
    }
    const credential = parseAuthorization(discharged.stdout[0] as string, { maxHeaderLength: 16_384, maxDischarges: 32 });
    const verified = await fx.verifier.verify(credential.token, { discharges: credential.discharges, context: { tool: 'deploy' } });
    expect(verified.declared.get('approved-by')).toBe('alice');

    const half = testIo();
    expect(await run(['attenuate', fx.mint().encode(), '--third-party', base], half)).toBe(2);
    expect(half.stderr.join('\n')).toContain('--third-party and --condition go together');
    const bad = testIo();
    expect(await run(['attenuate', fx.mint().encode(), '--third-party', base, '--condition', 'frobnicate everything'], bad)).toBe(1);
    expect(bad.stderr.join('\n')).toContain('unknown third-party condition');
  });

  it('is in the command table; gets an approved discharge; exits 1 (ERR_PENDING) at its timeout', async () => {
    const token = addDischargeCaveat(fx.mint(), { location: base, publicKey: fx.service.publicKey, condition: 'approve group:ops restart' });
    const approving = setInterval(async () => {
      for (const v of await fx.service.listPending(ALICE)) await fx.service.decide(v.id, ALICE, { approve: true }).catch(() => undefined);
    }, 100);
    const io = testIo();
    try {
      expect(await run(['discharge', token.encode()], io)).toBe(0);
    } finally {
      clearInterval(approving);
    }
    expect(io.stderr[0]).toMatch(new RegExp(`^approval needed: ${base}/approve/requests/dr_`));
    expect(io.stdout[0]).toMatch(/^Macaroon [A-Za-z0-9_-]+,[A-Za-z0-9_-]+$/);

    const waiting = addDischargeCaveat(fx.mint(), { location: base, publicKey: fx.service.publicKey, condition: 'approve alice never' });
    const late = testIo();
    expect(await run(['discharge', waiting.encode(), '--timeout', '2s'], late)).toBe(1);
    expect(late.stderr.join('\n')).toContain('ERR_PENDING');
    expect(late.stdout).toEqual([]);

    const help = testIo();
    expect(await run(['discharge', '--help'], help)).toBe(0);
    expect(help.stdout[0]).toContain('Authorization: Macaroon');
  });
});
