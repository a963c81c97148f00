/**
 * The passkey settings on the command line, on an embedded database in a temporary data
 * directory: `tessera users add … --require-passkey` marks one user, `tessera groups
 * require-passkey|allow-password` a group (audited), `tessera groups list` shows both, and the
 * policy the pages enforce (`userRequiresPasskey`) reads what they wrote.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../src/cli/io.js';
import { run } from '../src/cli/run.js';
import { userRequiresPasskey } from '../src/discharge/web/index.js';
import type { Store } from '../src/storage/index.js';
import { sharedDataDir, type SharedDataDir } from './support/cli.js';
import { seedDataDir } from './support/databases.js';

let dataDir: string;
/** The commands and the checks share one open handle of the directory (test/support/cli.ts). */
let shared: SharedDataDir;
beforeAll(async () => {
  dataDir = await seedDataDir(await mkdtemp(join(tmpdir(), 'tessera-passkeys-cli-')));
  shared = sharedDataDir(dataDir);
});
afterAll(async () => {
  await shared.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function tessera(args: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), readStdin: async () => stdin, env: {}, cwd: dataDir, stopSignal: () => new Promise(() => undefined), openDatabase: shared.openDatabase };
  const code = await run([...args, '--data-dir', dataDir], io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const withStore = <T>(fn: (store: Store) => Promise<T>): Promise<T> => shared.withStore(fn);

// users add hashes with the full scrypt cost: slow under load.
describe('passkey settings in the CLI', { timeout: 60_000 }, () => {
  it('users add --require-passkey makes one user passkey-only', async () => {
    const r = await tessera(['users', 'add', 'carol', '--group', 'dev', '--require-passkey', '--password-stdin'], 'correct horse battery\n');
    expect(r).toEqual({ code: 0, out: 'added user carol (groups: dev); signs in only with a passkey', err: '' });
    expect((await tessera(['users', 'add', 'dave', '--group', 'dev', '--password-stdin'], 'correct horse battery\n')).code).toBe(0);
    await withStore(async (store) => {
      expect((await store.users.get('carol'))?.requirePasskey).toBe(true);
      expect((await store.users.get('dave'))?.requirePasskey).toBe(false);
    });
    const misplaced = await tessera(['users', 'passwd', 'dave', '--require-passkey', '--password-stdin'], 'another password\n');
    expect(misplaced.code).not.toBe(0);
    expect(misplaced.err).toContain('--require-passkey is only for users add');
  });

  it('groups require-passkey / allow-password / list', async () => {
    expect(await tessera(['groups', 'require-passkey', 'dev'])).toMatchObject({ code: 0, out: 'group dev now signs in and approves only with a passkey' });
    expect(await tessera(['groups', 'require-passkey', 'dev'])).toMatchObject({ code: 0, out: 'group dev already signs in and approves only with a passkey' });
    expect(await tessera(['groups', 'require-passkey', 'later'])).toMatchObject({ code: 0 }); // before any member exists
    const listed = await tessera(['groups', 'list', '--json']);
    expect(JSON.parse(listed.out)).toEqual([
      { name: 'dev', members: ['carol', 'dave'], requirePasskey: true, approverTokens: false },
      { name: 'later', members: [], requirePasskey: true, approverTokens: false },
    ]);
    await withStore(async (store) => {
      const dave = await store.users.get('dave');
      expect(dave !== undefined && (await userRequiresPasskey(store, dave))).toBe(true);
      expect((await store.audit.list({ action: 'group-require-passkey' })).map((e) => e.subject)).toEqual(expect.arrayContaining(['group:dev', 'group:later']));
    });

    expect(await tessera(['groups', 'allow-approver-tokens', 'later'])).toMatchObject({ code: 0, out: 'group later: approver tokens now approve its requests' });
    expect(await tessera(['groups', 'allow-approver-tokens', 'dev'])).toMatchObject({ code: 0 });
    await withStore(async (store) => expect(await store.passkeys.approverTokenGroups()).toEqual(['dev', 'later']));
    expect(await tessera(['groups', 'refuse-approver-tokens', 'dev'])).toMatchObject({ code: 0, out: 'group dev: approver tokens now refused for its requests (a passkey sign-in approves)' });
    expect((await tessera(['groups', 'allow-approver-tokens', 'nobody'])).err).toContain('not passkey-only');
    expect(await tessera(['groups', 'allow-password', 'dev'])).toMatchObject({ code: 0, out: 'group dev now may use passwords' });
    expect((await tessera(['groups', 'list'])).out).toBe('dev\tpassword or passkey\tcarol,dave\nlater\tpasskey only\t');
  });

  it('refuses bad group names and actions', async () => {
    expect((await tessera(['groups', 'require-passkey', 'Not Valid'])).err).toContain('a group name must be');
    expect((await tessera(['groups', 'rename', 'dev'])).err).toContain('unknown groups action');
    expect((await tessera(['groups', 'list', 'dev'])).err).toContain('groups list takes no name');
  });
});
