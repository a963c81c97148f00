/**
 * `tessera users` (src/cli/commands/users.ts) on an embedded database in a temporary data
 * directory: add with a password from stdin, list, change a password, remove, and refusals.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsers, type UsersIo } from '../src/cli/commands/users.js';
import { verifyPassword } from '../src/discharge/web/index.js';
import { MasterKey, createStore, openDatabase } from '../src/storage/index.js';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tessera-users-'));
  // Creating (initdb + migrations) the embedded database is the slow part: do it once, here.
  await (await openDatabase({ dataDir })).close();
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function run(args: string[], stdin: string | NodeJS.ReadableStream = ''): Promise<Run> {
  let out = '';
  let err = '';
  const io: UsersIo = {
    stdin: typeof stdin === 'string' ? Readable.from([Buffer.from(stdin)]) : stdin,
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    env: {},
  };
  const code = await runUsers([...args, '--data-dir', dataDir], io);
  return { code, out, err };
}

async function withStore<T>(fn: (store: ReturnType<typeof createStore>) => Promise<T>): Promise<T> {
  const database = await openDatabase({ dataDir });
  try {
    return await fn(createStore(database, MasterKey.generate()));
  } finally {
    await database.close();
  }
}

describe('tessera users', () => {
  it('adds a user with groups and a scrypt-hashed password from stdin', async () => {
    const r = await run(['add', 'alice', '--group', 'ops', '--group', 'release', '--password-stdin'], 'correct horse battery\n');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toBe('added user alice (groups: ops, release)\n');
    const user = await withStore((s) => s.users.get('alice'));
    expect(user?.groups).toEqual(['ops', 'release']);
    expect(user?.passwordHash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('correct horse battery', user?.passwordHash ?? '')).toBe(true);
    expect(await verifyPassword('correct horse battery\n', user?.passwordHash ?? '')).toBe(false);
    expect(r.out + r.err).not.toContain('correct horse');
  });

  it('lists users with their groups', async () => {
    const r = await run(['list']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^alice\tops,release\t\d{4}-\d\d-\d\dT/m);
  });

  it('refuses a duplicate, a bad name or group, a short password, and a missing group', async () => {
    expect(await run(['add', 'alice', '--group', 'ops', '--password-stdin'], 'another password')).toMatchObject({ code: 1, err: expect.stringContaining('already exists') });
    expect((await run(['add', 'Alice Smith', '--group', 'ops', '--password-stdin'], 'a good password')).code).toBe(1);
    expect((await run(['add', 'bob', '--group', 'group:ops', '--password-stdin'], 'a good password')).code).toBe(1);
    expect(await run(['add', 'bob', '--group', 'ops', '--password-stdin'], 'short')).toMatchObject({ code: 1, err: expect.stringContaining('at least 8') });
    expect((await run(['add', 'bob', '--password-stdin'], 'a good password')).code).toBe(1);
    expect(await withStore((s) => s.users.get('bob'))).toBeUndefined();
  });

  it('will not prompt without a terminal: it asks for --password-stdin', async () => {
    const r = await run(['add', 'bob', '--group', 'ops'], 'a good password');
    expect(r.code).toBe(1);
    expect(r.err).toContain('--password-stdin');
  });

  it('prompts twice without echo on a terminal', async () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true, modes: [] as boolean[], setRawMode(m: boolean) { this.modes.push(m); } });
    setTimeout(() => tty.write('tty password 1\r'), 20);
    setTimeout(() => tty.write('tty password 1\r'), 60);
    const r = await run(['add', 'carol', '--group', 'ops'], tty);
    expect(r.code).toBe(0);
    expect(r.err).toBe('Password: \nPassword again: \n');
    expect(r.err + r.out).not.toContain('tty password');
    expect(tty.modes).toEqual([true, false, true, false]);
    const user = await withStore((s) => s.users.get('carol'));
    expect(await verifyPassword('tty password 1', user?.passwordHash ?? '')).toBe(true);
  });

  it('passwd changes the password and ends the user\'s sessions', async () => {
    await withStore((s) => s.sessions.create({ sessionId: 'S'.repeat(43), userName: 'alice', csrfToken: 'C'.repeat(43), expiresAt: new Date(Date.now() + 60_000) }));
    const r = await run(['passwd', 'alice', '--password-stdin'], 'a brand new password\n');
    expect(r).toMatchObject({ code: 0, out: 'changed the password of alice; ended 1 session(s)\n' });
    const user = await withStore((s) => s.users.get('alice'));
    expect(await verifyPassword('a brand new password', user?.passwordHash ?? '')).toBe(true);
    expect(await withStore((s) => s.sessions.getActive('S'.repeat(43)))).toBeUndefined();
    expect((await run(['passwd', 'nobody', '--password-stdin'], 'a brand new password')).code).toBe(1);
  });

  it('removes a user; removing an unknown user fails', async () => {
    expect(await run(['remove', 'carol'])).toMatchObject({ code: 0, out: 'removed user carol\n' });
    expect(await withStore((s) => s.users.get('carol'))).toBeUndefined();
    expect(await run(['remove', 'carol'])).toMatchObject({ code: 1, err: expect.stringContaining('no user carol') });
  });

  it('answers usage errors with exit code 2', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['frob', 'x'])).code).toBe(2);
    expect((await run(['add'])).code).toBe(2);
    expect((await run(['list', 'extra'])).code).toBe(2);
    expect((await run(['add', 'x', '--bogus'])).code).toBe(2);
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('tessera users add');
  });
});
