/**
 * `tessera serve` as a user runs it: starts on an ephemeral port with a temporary data dir,
 * prints where it listens and the admin token once, leaves the token in a 0600 file, answers
 * /healthz, stops cleanly on SIGINT, and on the next start prints no token but keeps it valid.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isTesseraError } from '../src/errors.js';
import { startServer } from '../src/server/server.js';
import type { CliIO } from '../src/cli/io.js';
import { run } from '../src/cli/run.js';
import { hasStackTrace, runCli, spawnCli } from './support/cli.js';
import { seedDataDir } from './support/databases.js';
import { whenServing, type ServeProcess } from './support/serve-process.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tessera-serve-'));
  dirs.push(d);
  return d;
}
/**
 * A data directory holding a migrated, keyless embedded database: still a first start for the
 * server (which goes by root keys), without seconds of initdb (storage.test covers that).
 */
const seededDir = async (): Promise<string> => seedDataDir(await tempDir());

/** Start `tessera serve --port 0 --data-dir <dir>`; resolves once it says "Ctrl-C to stop". */
const serve = (dataDir: string): Promise<ServeProcess> => whenServing(spawnCli(['serve', '--port', '0', '--data-dir', dataDir]));

describe('tessera serve', { timeout: 240_000 }, () => {
  it('first start prints the admin token once and saves it 0600; SIGINT stops cleanly; restart keeps it', async () => {
    const dir = await seededDir();
    const first = await serve(dir);
    const printed = /admin token \(shown once; saved to (.+), mode 0600\):\n([A-Za-z0-9_-]+)\n/.exec(first.output());
    expect(printed).not.toBeNull();
    const [, file, token] = printed as RegExpExecArray;
    expect(file).toBe(join(dir, 'admin-token'));
    expect((await readFile(file!, 'utf8')).trim()).toBe(token);
    expect(((await stat(file!)).mode & 0o777).toString(8)).toBe('600');
    expect(((await stat(join(dir, 'master.key'))).mode & 0o777).toString(8)).toBe('600');

    expect(first.output()).toContain(`tessera: approval pages: ${first.url}/approve/ (`);
    const door = await fetch(`${first.url}/`);
    expect(door.status).toBe(200);
    expect(await door.text()).toContain('href="/approve/"');
    const health = await fetch(`${first.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', database: 'pglite' });
    const keys = await fetch(`${first.url}/v1/keys`, { headers: { authorization: `Macaroon ${token}` } });
    expect(keys.status).toBe(200);

    // While it runs, a second server on the same embedded database is refused, clearly.
    const clash = await runCli(['serve', '--port', '0', '--data-dir', dir]);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/error: the embedded database is in use by process \d+; .+ \(ERR_CONFIG\)/);
    expect(hasStackTrace(clash.stderr)).toBe(false);

    expect(await first.stop('SIGINT')).toBe(0);
    expect(first.output()).toContain('tessera: SIGINT: stopping');
    expect(first.output()).toContain('tessera: stopped');
    await expect(fetch(`${first.url}/healthz`)).rejects.toThrow();

    const second = await serve(dir);
    expect(second.output()).not.toContain(token!);
    expect(second.output()).toContain(`tessera: admin token: ${file}`);
    const again = await fetch(`${second.url}/v1/keys`, { headers: { authorization: `Macaroon ${token}` } });
    expect(again.status).toBe(200);
    expect(await second.stop('SIGTERM')).toBe(0);
  });

  it('reports a port in use as a configuration error', async () => {
    // Whoever holds the port (here a bare listener: one database fewer to open than a server).
    const holder = createServer();
    const port = await new Promise<number>((resolve) => holder.listen(0, '127.0.0.1', () => resolve((holder.address() as AddressInfo).port)));
    try {
      let err: unknown;
      try {
        await startServer({ port, dataDir: await seededDir(), log: () => undefined });
      } catch (e) {
        err = e;
      }
      expect(isTesseraError(err, 'ERR_CONFIG')).toBe(true);
      expect((err as Error).message).toContain(`port ${port}`);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});

describe('tessera admin-token (recovering a lost admin token)', { timeout: 120_000 }, () => {
  const cliIo = (env: Record<string, string | undefined> = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = { out: (t) => void out.push(t), err: (t) => void err.push(t), readStdin: async () => undefined, env, cwd: process.cwd(), stopSignal: () => new Promise(() => undefined) };
    return { io, out, err };
  };
  const keysWith = (url: string, token: string): Promise<Response> => fetch(`${url}/v1/keys`, { headers: { authorization: `Macaroon ${token}` } });

  it('mints a new admin token on the database, replaces the 0600 file, and the server accepts it', async () => {
    const dataDir = await seededDir();
    const first = await startServer({ port: 0, dataDir, log: () => undefined });
    const lost = first.adminToken as string;
    await first.close();
    await rm(join(dataDir, 'admin-token'));

    const { io, out, err } = cliIo();
    expect(await run(['admin-token', '--data-dir', dataDir], io)).toBe(0);
    const token = out[0] as string;
    expect(token).not.toBe(lost);
    expect(err.join('\n')).toContain('mode 0600');
    expect((await readFile(join(dataDir, 'admin-token'), 'utf8')).trim()).toBe(token);
    expect((await stat(join(dataDir, 'admin-token'))).mode & 0o777).toBe(0o600);

    const again = await startServer({ port: 0, dataDir, log: () => undefined });
    try {
      expect(again.adminToken).toBeUndefined(); // not a first start
      expect((await keysWith(again.url, token)).status).toBe(200);
      expect((await keysWith(again.url, lost)).status).toBe(200); // until revoked
    } finally {
      await again.close();
    }
  });

  it('refuses a --url with credentials in it, without echoing them', async () => {
    const { io, err } = cliIo();
    expect(await run(['status', 'tsr1.rk_x.AAAAAAAAAAAAAAAAAAAAAA', '--token', 'x', '--url', 'http://admin:pa55word@127.0.0.1:1'], io)).toBe(2);
    expect(err.join('\n')).toContain('must not contain a user name or password');
    expect(err.join('\n')).not.toContain('pa55word');
  });

  it('refuses a directory that is not a server\'s data directory, and a database with no keys', async () => {
    const empty = cliIo();
    expect(await run(['admin-token', '--data-dir', await tempDir()], empty.io)).toBe(1);
    expect(empty.err.join('\n')).toMatch(/no master key in .* \(ERR_CONFIG\)/);

    const withKey = cliIo({ TESSERA_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') });
    expect(await run(['admin-token', '--data-dir', await seededDir()], withKey.io)).toBe(1);
    expect(withKey.err.join('\n')).toContain('no root keys yet');
  });
});
