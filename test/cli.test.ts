/**
 * The `tessera` CLI: offline attenuate/inspect, the server commands against a running server
 * (started in this process on an ephemeral port with a temporary data dir), help everywhere,
 * and errors as one clear line with a non-zero status, never a stack trace. Commands run in
 * this process through the dispatcher (`runCli`); what only the executable shows (stdin,
 * stdout, exit status) is checked on a few child processes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Macaroon } from '../src/index.js';
import { addDischargeCaveat, gatherDischarges } from '../src/client/index.js';
import { startServer, type RunningServer } from '../src/server/server.js';
import { ROOT, hasStackTrace, runCli, runCliProcess } from './support/cli.js';
import { seedDataDir } from './support/databases.js';

const token = Macaroon.mint({ rootKey: 'k', identifier: 'tsr1.rk_test.AAAAAAAAAAAAAAAAAAAAAA', location: 'http://x.test' }).encode();

describe('tessera (offline)', { timeout: 120_000 }, () => {
  it('attenuate adds caveats and inspect shows them (argument, stdin, --json)', async () => {
    const a = await runCli(['attenuate', token, '--caveat', 'ops read', '--caveat', 'resource /docs/*']);
    expect(a.code).toBe(0);
    const narrowed = a.stdout.trim();
    expect(Macaroon.decode(narrowed).caveats.map((c) => c.text)).toEqual(['ops read', 'resource /docs/*']);

    const [text, json, viaStdin] = await Promise.all([
      runCli(['inspect', narrowed]),
      runCli(['inspect', '--json'], { input: `${narrowed}\n` }),
      runCli(['attenuate', '-', '--caveat', 'uses 2'], { input: narrowed }),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('identifier  tsr1.rk_test.AAAAAAAAAAAAAAAAAAAAAA');
    expect(text.stdout).toContain('root key rk_test');
    expect(text.stdout).toContain('location    http://x.test');
    expect(text.stdout).toContain('  2. resource /docs/*');
    expect(JSON.parse(json.stdout)).toEqual({
      identifier: 'tsr1.rk_test.AAAAAAAAAAAAAAAAAAAAAA',
      tessera: { purpose: 'token', keyId: 'rk_test', nonce: 'AAAAAAAAAAAAAAAAAAAAAA' },
      location: 'http://x.test',
      caveats: ['ops read', 'resource /docs/*'],
      thirdPartyCaveats: [],
    });
    expect(Macaroon.decode(viaStdin.stdout.trim()).caveats.map((c) => c.text)).toEqual(['ops read', 'resource /docs/*', 'uses 2']);
  });

  it('refuses bad input with one line, a code and a non-zero status, never a stack trace', async () => {
    const cases = await Promise.all([
      runCli(['attenuate', token, '--caveat', 'time-before tomorrow']),
      runCli(['attenuate', token]),
      runCli(['inspect', 'definitely not a token']),
      runCli(['inspect'], { input: '' }),
      runCli(['attenuate', token, '--caveat']),
      runCli(['inspect', token, 'extra']),
      runCli(['frobnicate']),
      runCli(['mint', '--ttl', 'forever', '--url', 'http://127.0.0.1:9']),
    ]);
    const [badCaveat, noCaveat, badToken, emptyStdin, missingValue, extraArg, unknown, badTtl] = cases;
    expect(badCaveat!.code).toBe(1);
    expect(badCaveat!.stderr).toMatch(/^error: caveat\[0\] is malformed: .+ \(ERR_INVALID_ARGUMENT\)\n {2}caveat: time-before tomorrow\n$/);
    expect(badToken!.code).toBe(1);
    expect(badToken!.stderr).toMatch(/^error: .+ \(ERR_MALFORMED\)\n$/);
    for (const usage of [noCaveat, emptyStdin, missingValue, extraArg, unknown, badTtl]) {
      expect(usage!.code, usage!.stderr).toBe(2);
      expect(usage!.stderr).toMatch(/^error: .+ \(ERR_INVALID_ARGUMENT\)/);
    }
    for (const c of cases) {
      expect(hasStackTrace(c.stderr), c.stderr).toBe(false);
      expect(c.stdout).toBe('');
    }
  });

  it('has --help for every command', async () => {
    const names = ['serve', 'mint', 'attenuate', 'inspect', 'verify', 'revoke', 'status', 'keys'];
    const all = await Promise.all([runCli(['--help']), ...names.map((n) => runCli([n, '--help']))]);
    expect(all[0]!.code).toBe(0);
    for (const n of names) expect(all[0]!.stdout).toContain(`  ${n}`);
    names.forEach((n, i) => {
      expect(all[i + 1]!.code).toBe(0);
      expect(all[i + 1]!.stdout).toContain(`Usage: tessera ${n}`);
    });
  });

  it('the executable reads stdin, prints on stdout and exits with the status (0, 1, 2)', async () => {
    const [json, badToken, unknown] = await Promise.all([
      runCliProcess(['inspect', '--json'], { input: `${token}\n` }),
      runCliProcess(['inspect', 'definitely not a token']),
      runCliProcess(['frobnicate']),
    ]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ identifier: 'tsr1.rk_test.AAAAAAAAAAAAAAAAAAAAAA', caveats: [] });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/^error: .+ \(ERR_MALFORMED\)\n$/);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown command "frobnicate"; .+ \(ERR_INVALID_ARGUMENT\)\n$/);
    for (const r of [json, badToken, unknown]) expect(hasStackTrace(r.stderr), r.stderr).toBe(false);
    expect(badToken.stdout + unknown.stdout).toBe('');
  });

  // `npx tsx src/cli/main.ts` runs the checkout's node_modules/.bin/tsx: run that here, without
  // npm's own start-up (~0.8 s of CPU) in front of it.
  it('runs from source with tsx, as `npx tsx src/cli/main.ts` does', async () => {
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve) =>
      execFile(join(ROOT, 'node_modules/.bin/tsx'), ['src/cli/main.ts', 'inspect', token], { cwd: ROOT, timeout: 60_000 }, (e, stdout) =>
        resolve({ code: e === null ? 0 : (e.code as number), stdout }),
      ),
    );
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('tsr1.rk_test');
  });
});

describe('tessera (against a server)', { timeout: 120_000 }, () => {
  let server: RunningServer;
  let dir: string;
  let base: string[];

  beforeAll(async () => {
    dir = await seedDataDir(await mkdtemp(join(tmpdir(), 'tessera-cli-')));
    server = await startServer({ port: 0, dataDir: dir, log: () => undefined });
    base = ['--url', server.url, '--data-dir', dir];
  });
  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('mint, verify (allowed / denied), revoke, then verify shows the refusal', async () => {
    const minted = await runCli(['mint', ...base, '--caveat', 'ops read', '--ttl', '1h', '--label', 'cli test']);
    expect(minted.code, minted.stderr).toBe(0);
    const tok = minted.stdout.trim();
    const identifier = Macaroon.decode(tok).identifierText;
    expect(minted.stderr).toContain(`minted ${identifier}`);
    const narrowed = (await runCli(['attenuate', tok, '--caveat', 'resource /docs/*'])).stdout.trim();

    const [ok, denied, json, explained] = await Promise.all([
      runCli(['verify', ...base, narrowed, '--operation', 'read', '--resource', '/docs/a']),
      runCli(['verify', ...base, narrowed, '--operation', 'read', '--resource', '/etc/passwd']),
      runCli(['verify', ...base, '--json', '--operation', 'read', '--resource', '/docs/a'], { input: narrowed }),
      runCli(['verify', ...base, narrowed, '--explain', '--operation', 'write', '--resource', '/docs/a']),
    ]);
    expect(explained.code).toBe(1);
    const lines = explained.stdout.trim().split('\n');
    expect(lines[0]).toBe('denied');
    expect(lines.slice(1).map((l) => l.trim().split(/\s+/).slice(0, 2).join(' '))).toEqual(['FAIL ops', 'pass time-before', 'pass resource']);
    expect(lines[1]).toMatch(/FAIL {2}ops read: .+/);
    expect(ok.code).toBe(0);
    expect(ok.stdout.trim()).toBe(`allowed (${identifier})`);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toContain('denied: ');
    expect(denied.stdout).toContain('(ERR_CAVEAT_FAILED)');
    expect(denied.stdout).toContain('caveat: resource /docs/*');
    expect(JSON.parse(json.stdout)).toMatchObject({ allowed: true, identifier });

    const revoked = await runCli(['revoke', ...base, narrowed, '--reason', 'cli test']);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout.trim()).toBe(`revoked: ${identifier}`);
    const after = await runCli(['verify', ...base, tok, '--operation', 'read']);
    expect(after.code).toBe(1);
    expect(after.stdout).toContain('(ERR_REVOKED)');
    const again = await runCli(['revoke', ...base, identifier]);
    expect(again.stdout.trim()).toBe(`already revoked: ${identifier}`);
    const st = await runCli(['status', ...base, identifier]);
    expect(st.stdout).toMatch(/state\s+revoked/);
    expect(st.stdout).toContain('cli test');
  });

  it('verify takes what `tessera discharge` prints (Macaroon / Bearer <token>,<discharge>) as well as a bare token', async () => {
    const minted = await server.system.issuer.mint({ caveats: ['ops read'], label: 'cli verify test' });
    const token = addDischargeCaveat(Macaroon.decode(minted.token), { location: server.url, publicKey: server.system.discharge.publicKey, condition: 'approve group:ops read the docs' });
    let decided: Promise<unknown> | undefined;
    const bundle = await gatherDischarges(token, {
      waitSeconds: 5,
      onApprovalUrl: (url) => {
        decided = server.system.discharge.decide(url.split('/').pop() as string, { name: 'alice', groups: ['ops'] }, { approve: true });
      },
    });
    await decided;
    const [discharge] = bundle.discharges.map((d) => d.encode());
    const read = ['--operation', 'read'];

    const [bare, bearer, malformed] = await Promise.all([
      runCli(['verify', ...base, token.encode(), ...read]),
      runCli(['verify', ...base, `Bearer ${token.encode()},${discharge}`, ...read, '--explain']), // explain counts no use
      runCli(['verify', ...base, `Macaroon ${token.encode()},,${discharge}`, ...read]),
    ]);
    expect(bare.code).toBe(1);
    expect(bare.stdout).toContain('(ERR_DISCHARGE_MISSING)');
    expect(bearer.code, bearer.stderr).toBe(0);
    expect(bearer.stdout).toMatch(/^allowed\n {2}pass {2}ops read\n {2}pass {2}\[discharge\] time-before \S+\n {2}pass {2}\[discharge\] declared approved-by alice\n/);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/^error: Authorization header must be .+ \(ERR_INVALID_ARGUMENT\)\n {2}field: authorization\n$/);
    expect(hasStackTrace(malformed.stderr)).toBe(false);

    // As a user types it, from stdin too; the discharge's `uses 1` lets one check through.
    const once = await runCli(['verify', ...base, '-', ...read], { input: `${bundle.authorization}\n` });
    expect(once.code, once.stdout + once.stderr).toBe(0);
    expect(once.stdout.trim()).toBe(`allowed (${minted.identifier})`);
    const twice = await runCli(['verify', ...base, bundle.authorization, ...read]);
    expect(twice.code).toBe(1);
    expect(twice.stdout).toContain('(ERR_USAGE_EXCEEDED)');
  });

  it('mint refuses a bad caveat, naming it; mint --json gives the details', async () => {
    const bad = await runCli(['mint', ...base, '--caveat', 'ops read', '--caveat', 'uses 0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('caveats[1] is malformed');
    expect(bad.stderr).toContain('caveat: uses 0');
    expect(hasStackTrace(bad.stderr)).toBe(false);
    const json = await runCli(['mint', ...base, '--json', '--caveat', 'uses 1']);
    expect(JSON.parse(json.stdout)).toMatchObject({ caveats: ['uses 1'], identifier: expect.stringMatching(/^tsr1\./) });
  });

  it('keys rotate replaces the admin-token file with a working reissued token', async () => {
    const file = join(dir, 'admin-token');
    const before = await readFile(file, 'utf8');
    const rotated = await runCli(['keys', 'rotate', ...base, '--grace', '1h']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.stdout).toContain(`saved to ${file}`);
    const after = await readFile(file, 'utf8');
    expect(after).not.toBe(before);
    expect(((await stat(file)).mode & 0o777).toString(8)).toBe('600');
    const list = await runCli(['keys', 'list', ...base, '--json']);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).keys.map((k: { state: string }) => k.state)).toEqual(['current', 'verifying']);
    const bad = await runCli(['keys', 'spin', ...base]);
    expect(bad.code).toBe(2);
  });

  it('explains a missing admin token and an unreachable server', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'tessera-cli-empty-'));
    try {
      const noToken = await runCli(['mint', '--url', server.url, '--data-dir', empty]);
      expect(noToken.code).toBe(1);
      expect(noToken.stderr).toMatch(/^error: no admin token: .+ \(ERR_UNAUTHENTICATED\)\n$/);
      const wrong = await runCli(['mint', '--url', server.url, '--token', token]);
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toContain('(ERR_KEY_UNKNOWN)');
      const down = await runCli(['mint', '--url', 'http://127.0.0.1:9', '--data-dir', dir]);
      expect(down.code).toBe(1);
      expect(down.stderr).toContain('cannot reach the Tessera server at http://127.0.0.1:9');
      for (const r of [noToken, wrong, down]) expect(hasStackTrace(r.stderr)).toBe(false);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
