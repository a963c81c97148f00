/**
 * `tessera users` while the server runs (#11): against a server started on an embedded data
 * directory (`startServer`, in this process: it holds the database's lock as `tessera serve`
 * does), the commands go through the admin API, found by themselves through the data directory
 * or named with --url / TESSERA_ADMIN_TOKEN; once the server stops, they work on the database
 * directly again. Passwords come from stdin only and are never printed.
 */
import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyPassword } from '../src/discharge/web/index.js';
import { Macaroon } from '../src/macaroon/macaroon.js';
import { SERVER_URL_FILE, startServer, type RunningServer } from '../src/server/server.js';
import { runCli } from './support/cli.js';
import { seedDataDir } from './support/databases.js';

let dataDir: string;
let server: RunningServer | undefined;
let adminToken: string;

beforeAll(async () => {
  dataDir = await seedDataDir(await mkdtemp(join(tmpdir(), 'tessera-users-server-')));
  server = await startServer({ port: 0, dataDir, log: () => undefined });
  adminToken = (await readFile(server.adminTokenFile, 'utf8')).trim();
});
afterAll(async () => {
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

const running = (): RunningServer => {
  if (server === undefined) throw new Error('the server is not running');
  return server;
};

const users = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) =>
  runCli(['users', ...args, '--data-dir', dataDir], options);

describe('tessera users against a running server', () => {
  it('add on the data directory of a running server goes through its admin API, and says so', async () => {
    const password = 'bobs secret password';
    const r = await users(['add', 'bob', '--group', 'ops', '--group', 'release', '--password-stdin'], { input: `${password}\n` });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('added user bob (groups: ops, release)\n');
    expect(r.stderr).toBe(`the embedded database is in use by the server at ${running().url}: going through its admin API\n`);
    expect(r.stdout + r.stderr).not.toContain(password);
    const bob = await running().system.store.users.get('bob');
    expect(bob?.groups).toEqual(['ops', 'release']);
    expect(await verifyPassword(password, bob?.passwordHash ?? '')).toBe(true);
    const [event] = await running().system.store.audit.list({ action: 'user-add', subject: 'bob' });
    expect(event).toMatchObject({ channel: 'http-api', actor: expect.stringMatching(/^admin:tsa1\./) });
    expect(JSON.stringify(event)).not.toContain(password);
  });

  it('list, passwd, invite, token and remove with --url and TESSERA_ADMIN_TOKEN', async () => {
    const env = { TESSERA_ADMIN_TOKEN: adminToken };
    const url = running().url;
    const listed = await users(['list', '--json', '--url', url], { env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stderr).toBe('');
    expect(JSON.parse(listed.stdout)).toEqual([{ name: 'bob', groups: ['ops', 'release'], createdAt: expect.stringMatching(/^\d{4}-/) }]);

    const passwd = await users(['passwd', 'bob', '--password-stdin', '--url', url], { env, input: 'a newer password' });
    expect(passwd).toMatchObject({ code: 0, stdout: 'changed the password of bob; ended 0 session(s)\n' });
    expect(await verifyPassword('a newer password', (await running().system.store.users.get('bob'))?.passwordHash ?? '')).toBe(true);

    const invited = await users(['invite', 'carol', '--group', 'ops', '--url', url], { env });
    expect(invited.code, invited.stderr).toBe(0);
    expect(invited.stdout).toMatch(new RegExp(`^${url}/approve/enrol/[A-Za-z0-9_-]{43}\\n$`));
    expect(invited.stderr).toContain('it works once, until');
    expect((await fetch(invited.stdout.trim())).status).toBe(200);

    const token = await users(['token', 'bob', '--ttl', '1h', '--json', '--url', url], { env });
    expect(token.code, token.stderr).toBe(0);
    const minted = JSON.parse(token.stdout) as { token: string; identifier: string; expiresAt: string };
    expect(Macaroon.decode(minted.token).caveats.map((c) => c.text)).toEqual(['aud tessera-approvals', 'declared user bob', expect.stringMatching(/^time-before /)]);
    const approvals = await fetch(`${url}/v1/approvals`, { headers: { authorization: `Macaroon ${minted.token}` } });
    expect(approvals.status).toBe(200);
    expect(await approvals.json()).toEqual({ approvals: [] });

    const removed = await users(['remove', 'bob', '--url', url], { env });
    expect(removed).toMatchObject({ code: 0, stdout: 'removed user bob\n' });
    expect(await running().system.store.users.get('bob')).toBeUndefined();
    expect(await users(['remove', 'bob', '--url', url], { env })).toMatchObject({ code: 1, stderr: expect.stringContaining('there is no user bob (ERR_NOT_FOUND)') });
  });

  it('groups: on the data directory of a running server through its admin API, or with --url; audited as the admin token', async () => {
    const groups = (args: string[], env: Record<string, string> = {}) => runCli(['groups', ...args, '--data-dir', dataDir], { env });
    const made = await groups(['require-passkey', 'release']);
    expect(made).toMatchObject({ code: 0, stdout: 'group release now signs in and approves only with a passkey\n' });
    expect(made.stderr).toBe(`the embedded database is in use by the server at ${running().url}: going through its admin API\n`);
    expect(await running().system.store.passkeys.passkeyGroups()).toContain('release');
    const [event] = await running().system.store.audit.list({ action: 'group-require-passkey', subject: 'group:release' });
    expect(event).toMatchObject({ channel: 'http-api', actor: expect.stringMatching(/^admin:tsa1\./) });

    const env = { TESSERA_ADMIN_TOKEN: adminToken };
    expect(await groups(['allow-approver-tokens', 'release', '--url', running().url], env)).toMatchObject({ code: 0, stdout: 'group release: approver tokens now approve its requests\n', stderr: '' });
    const listed = await groups(['list', '--json', '--url', running().url], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toContainEqual({ name: 'release', members: expect.any(Array), requirePasskey: true, approverTokens: true });
    expect(await groups(['allow-approver-tokens', 'nobody', '--url', running().url], env)).toMatchObject({ code: 1, stderr: expect.stringContaining('is not passkey-only') });
    const readOnly = { TESSERA_ADMIN_TOKEN: Macaroon.decode(adminToken).addFirstPartyCaveat('ops users:read').encode() };
    expect((await groups(['list', '--url', running().url], readOnly)).code).toBe(0);
    expect(await groups(['allow-password', 'release', '--url', running().url], readOnly)).toMatchObject({ code: 1, stderr: expect.stringContaining('ERR_CAVEAT_FAILED') });
    expect(await groups(['allow-password', 'release'])).toMatchObject({ code: 0, stdout: 'group release now may use passwords\n' });
    expect(await running().system.store.passkeys.passkeyGroups()).not.toContain('release');
  });

  it('an admin token without users:write is refused, plainly; a password is never an argument', async () => {
    const readOnly = Macaroon.decode(adminToken).addFirstPartyCaveat('ops users:read').encode();
    const env = { TESSERA_ADMIN_TOKEN: readOnly };
    expect((await users(['list', '--url', running().url], { env })).code).toBe(0);
    const refused = await users(['add', 'dave', '--group', 'ops', '--password-stdin', '--url', running().url], { env, input: 'daves password' });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ERR_CAVEAT_FAILED');
    expect(refused.stderr).not.toContain('daves password');
    expect(await running().system.store.users.get('dave')).toBeUndefined();
    expect((await users(['add', 'dave', '--group', 'ops', '--password', 'daves password'])).code).toBe(2);
  });

  it('when the holder of the database cannot be found, says to use the server', async () => {
    const file = join(dataDir, SERVER_URL_FILE);
    await rename(file, `${file}.away`);
    try {
      const r = await users(['list']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`the embedded database is in use by process ${process.pid}`);
      expect(r.stderr).toContain('run it against the server: --url <its URL> (or TESSERA_URL) and its admin token');
    } finally {
      await rename(`${file}.away`, file);
    }
  });

  it('once the server has stopped, works on the database directly (and the URL file is gone)', async () => {
    await running().close();
    server = undefined;
    await expect(readFile(join(dataDir, SERVER_URL_FILE), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
    const added = await users(['add', 'erin', '--group', 'ops', '--password-stdin'], { input: 'erins password' });
    expect(added).toMatchObject({ code: 0, stderr: '' });
    const listed = await users(['list']);
    expect(listed.stdout).toMatch(/^erin\tops\tadded /m);
    const token = await users(['token', 'erin']);
    expect(token.code, token.stderr).toBe(0);
    expect(Macaroon.decode(token.stdout.trim()).identifierText).toMatch(/^tsp1\./);
    const invited = await users(['invite', 'frank', '--group', 'ops', '--json'], { env: { TESSERA_PUBLIC_URL: 'https://tessera.example' } });
    expect(JSON.parse(invited.stdout)).toEqual({ url: expect.stringMatching(/^https:\/\/tessera\.example\/approve\/enrol\/[A-Za-z0-9_-]{43}$/), expiresAt: expect.stringMatching(/^\d{4}-/) });
  });
});
