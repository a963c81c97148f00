/**
 * `tessera users` (src/cli/commands/users.ts) through the CLI dispatcher, on an embedded
 * database in a temporary data directory: add with a password from stdin or the no-echo
 * prompt, list, change a password, remove, and refusals.
 *
 * Each command opens the data directory and closes it again, as a user's would: ~1 s of CPU
 * for an embedded database. The first test does exactly that; after it, the commands (and the
 * checks here) share one open handle of the same directory, whose close waits for the end.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promptHidden, type PasswordPrompt, type UsersIO } from '../src/cli/commands/users.js';
import { run } from '../src/cli/run.js';
import { verifyPassword } from '../src/discharge/web/index.js';
import { MasterKey, createStore, openDatabase } from '../src/storage/index.js';
import { sharedDataDir, type SharedDataDir } from './support/cli.js';
import { seedDataDir } from './support/databases.js';

let dataDir: string;
beforeAll(async () => {
  // A server's data directory after its first start (a migrated embedded database).
  dataDir = await seedDataDir(await mkdtemp(join(tmpdir(), 'tessera-users-')));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

interface Result {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function tessera(args: string[], input: { stdin?: string; prompt?: PasswordPrompt } = {}): Promise<Result> {
  const out: string[] = [];
  const err: string[] = [];
  const io: UsersIO = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    readStdin: async () => input.stdin,
    env: {},
    cwd: dataDir,
    stopSignal: () => new Promise(() => undefined),
    ...(shared !== undefined ? { openDatabase: shared.openDatabase } : {}),
    ...(input.prompt !== undefined ? { prompt: input.prompt } : {}),
  };
  const code = await run(['users', ...args, '--data-dir', dataDir], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** The one handle of the data directory the commands and checks share, while one is open. */
let shared: SharedDataDir | undefined;

async function withStore<T>(fn: (store: ReturnType<typeof createStore>) => Promise<T>): Promise<T> {
  if (shared !== undefined) return shared.withStore(fn);
  const database = await openDatabase({ dataDir });
  try {
    return await fn(createStore(database, MasterKey.generate()));
  } finally {
    await database.close();
  }
}

const hashOf = async (name: string): Promise<string> => (await withStore((s) => s.users.get(name)))?.passwordHash ?? '';

describe('tessera users', () => {
  // Two opens of the on-disk database and default-cost scrypts: seconds on a loaded machine.
  it('adds a user with groups and a scrypt-hashed password from stdin', { timeout: 60_000 }, async () => {
    const r = await tessera(['add', 'alice', '--group', 'ops', '-g', 'release', '--password-stdin'], { stdin: 'correct horse battery\n' });
    expect(r).toEqual({ code: 0, out: 'added user alice (groups: ops, release)', err: '' });
    const alice = await withStore((s) => s.users.get('alice'));
    expect(alice?.groups).toEqual(['ops', 'release']);
    const hash = alice?.passwordHash ?? '';
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('correct horse battery', hash)).toBe(true);
    expect(await verifyPassword('correct horse battery\n', hash)).toBe(false);
  });

  describe('with the data directory open once', () => {
    beforeAll(() => {
      shared = sharedDataDir(dataDir);
    });
    afterAll(async () => {
      await shared?.close();
      shared = undefined;
    });

    it('is listed in the command table', async () => {
      const out: string[] = [];
      await run(['--help'], { out: (t) => out.push(t), err: () => undefined, readStdin: async () => undefined, env: {}, cwd: dataDir, stopSignal: () => new Promise(() => undefined) });
      expect(out.join('\n')).toMatch(/^\s+users\s+add, list or remove/m);
      expect((await tessera(['--help'])).out).toContain('tessera users add <name> --group <group>');
    });

    it('lists users with their groups', async () => {
      const r = await tessera(['list']);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^alice\tops,release\tadded \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \((\d+ sec\. ago|now)\)$/m);
      const json = await tessera(['list', '--json']);
      expect(json.code).toBe(0);
      const listed = JSON.parse(json.out) as { name: string; groups: string[]; createdAt: string }[];
      expect(listed.find((u) => u.name === 'alice')).toMatchObject({ groups: ['ops', 'release'], createdAt: expect.stringMatching(/^\d{4}-/) });
      expect((await tessera(['add', 'x', '--group', 'g', '--json'])).code).toBe(2);
    });

    it('asks twice on the terminal prompt; refuses when the answers differ', async () => {
      const answers = ['tty password 1', 'tty password 1'];
      const asked: string[] = [];
      const prompt: PasswordPrompt = async (q) => (asked.push(q), answers.shift() ?? '');
      expect((await tessera(['add', 'carol', '--group', 'ops'], { prompt })).code).toBe(0);
      expect(asked).toEqual(['Password: ', 'Password again: ']);
      expect(await verifyPassword('tty password 1', await hashOf('carol'))).toBe(true);
      const differ = ['first password', 'second password'];
      const r = await tessera(['add', 'dave', '--group', 'ops'], { prompt: async () => differ.shift() ?? '' });
      expect(r).toMatchObject({ code: 1, err: expect.stringContaining('the two passwords differ') });
    });

    it('refuses a duplicate, a bad name or group, a short password, and a missing group', async () => {
      const dup = await tessera(['add', 'alice', '--group', 'ops', '--password-stdin'], { stdin: 'another password' });
      expect(dup).toMatchObject({ code: 1, err: expect.stringContaining('already a user alice') });
      expect((await tessera(['add', 'Alice Smith', '--group', 'ops', '--password-stdin'], { stdin: 'a good password' })).code).toBe(1);
      expect((await tessera(['add', 'bob', '--group', 'group:ops', '--password-stdin'], { stdin: 'a good password' })).code).toBe(1);
      expect(await tessera(['add', 'bob', '--group', 'ops', '--password-stdin'], { stdin: 'short\n' })).toMatchObject({ code: 1, err: expect.stringContaining('at least 8') });
      expect((await tessera(['add', 'bob', '--password-stdin'], { stdin: 'a good password' })).code).toBe(2);
      expect(await withStore((s) => s.users.get('bob'))).toBeUndefined();
      expect(await verifyPassword('correct horse battery', await hashOf('alice'))).toBe(true); // untouched
    });

    it('will not prompt without a terminal, nor read a password from a terminal stdin', async () => {
      const r = await tessera(['add', 'bob', '--group', 'ops']);
      expect(r.code).toBe(2);
      expect(r.err).toContain('--password-stdin');
      expect((await tessera(['add', 'bob', '--group', 'ops', '--password-stdin'])).code).toBe(2);
    });

    it('passwd changes the password and ends the user\'s sessions', async () => {
      await withStore((s) => s.sessions.create({ sessionId: 'S'.repeat(43), userName: 'alice', csrfToken: 'C'.repeat(43), expiresAt: new Date(Date.now() + 60_000) }));
      const r = await tessera(['passwd', 'alice', '--password-stdin'], { stdin: 'a brand new password\n' });
      expect(r).toMatchObject({ code: 0, out: 'changed the password of alice; ended 1 session(s)' });
      expect(await verifyPassword('a brand new password', await hashOf('alice'))).toBe(true);
      expect(await withStore((s) => s.sessions.getActive('S'.repeat(43)))).toBeUndefined();
      expect((await tessera(['passwd', 'nobody', '--password-stdin'], { stdin: 'a brand new password' })).code).toBe(1);
    });

    it('removes a user; removing an unknown user fails', async () => {
      expect(await tessera(['remove', 'carol'])).toMatchObject({ code: 0, out: 'removed user carol' });
      expect(await withStore((s) => s.users.get('carol'))).toBeUndefined();
      expect(await tessera(['remove', 'carol'])).toMatchObject({ code: 1, err: expect.stringContaining('no user carol') });
    });

    it('answers usage errors with exit code 2', async () => {
      for (const args of [[], ['frob', 'x'], ['add'], ['list', 'extra'], ['add', 'x', '--bogus'], ['remove', 'x', '--group', 'g'], ['list', '--password-stdin']]) {
        expect((await tessera(args)).code, args.join(' ')).toBe(2);
      }
    });
  });
});

describe('the no-echo prompt', () => {
  it('reads a line in raw mode, handles backspace, and echoes nothing typed', async () => {
    const input = Object.assign(new PassThrough(), { modes: [] as boolean[], setRawMode(m: boolean) { this.modes.push(m); } });
    let shown = '';
    const answer = promptHidden({ input, output: { write: (t: string) => (shown += t) } }, 'Password: ');
    input.write('secret pa');
    input.write('sx\u007fsword\r');
    expect(await answer).toBe('secret password');
    expect(shown).toBe('Password: \n');
    expect(input.modes).toEqual([true, false]);
  });

  it('Ctrl-C cancels', async () => {
    const input = new PassThrough();
    const answer = promptHidden({ input, output: { write: () => undefined } }, 'Password: ');
    input.write('abc\u0003');
    await expect(answer).rejects.toThrow('cancelled');
  });
});
