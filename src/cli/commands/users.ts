/**
 * `tessera users`: the approvers of the approval pages, managed directly on the database (a
 * local admin action, like the first admin token; no server needs to run).
 *
 *   tessera users add <name> --group <g> [--group <g2>] [--password-stdin] [--require-passkey]
 *   tessera users passwd <name> [--password-stdin]     new password; signs the user out everywhere
 *   tessera users list
 *   tessera users remove <name>                        also ends the user's sessions
 *
 * The password comes from a prompt that does not echo (asked twice), or with --password-stdin
 * from standard input (one trailing newline removed). It is hashed with scrypt
 * (src/discharge/web/passwords.ts) and never printed or logged.
 *
 * User and group names follow the discharge conditions' grammar (`approve <who> <what>`, see
 * src/tickets/conditions.ts) so every user and group can be named in a condition.
 */
import { NAME_PATTERN } from '../../tickets/conditions.js';
import { checkNewPassword, hashPassword, MAX_PASSWORD_LENGTH } from '../../discharge/web/passwords.js';
import { TesseraError, invalidArgument } from '../../errors.js';
import { MasterKey } from '../../storage/keyring.js';
import type { Store } from '../../storage/index.js';
import { storageLayer } from '../layers.js';
import { bool, str, strs, type Command } from '../command.js';
import { UsageError, dataDirOf, pretty, when, type CliIO } from '../io.js';

/** Ask a question and read an answer without echoing it. */
export type PasswordPrompt = (question: string) => Promise<string>;

/** CliIO, plus (for tests) the prompt to use instead of the terminal's. */
export type UsersIO = CliIO & { readonly prompt?: PasswordPrompt };

/** A terminal as the prompt needs it (process.stdin / process.stderr). */
export interface Terminal {
  readonly input: NodeJS.ReadableStream & { setRawMode?: (mode: boolean) => unknown };
  readonly output: { write(text: string): unknown };
}

/**
 * Prompt on a terminal in raw mode, so nothing typed is echoed. Enter ends the answer,
 * Backspace deletes, Ctrl-C cancels.
 */
export function promptHidden(terminal: Terminal, question: string): Promise<string> {
  const { input, output } = terminal;
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error): void => {
      input.removeListener('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (error === undefined) resolve(typed);
      else reject(error);
    };
    const onData = (data: Buffer | string): void => {
      for (const ch of data.toString()) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new TesseraError('ERR_INVALID_ARGUMENT', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else if (typed.length <= MAX_PASSWORD_LENGTH) typed += ch;
      }
    };
    output.write(question);
    input.setRawMode?.(true);
    input.resume();
    input.on('data', onData);
  });
}

const terminalPrompt = (): PasswordPrompt | undefined =>
  process.stdin.isTTY === true ? (question) => promptHidden({ input: process.stdin, output: process.stderr }, question) : undefined;

export function checkName(kind: 'user' | 'group', name: string | undefined): string {
  if (name === undefined || !NAME_PATTERN.test(name)) {
    throw invalidArgument(`a ${kind} name must be 1-64 of a-z 0-9 . _ - starting with a letter or digit`, { field: kind });
  }
  return name;
}

async function newPassword(io: UsersIO, fromStdin: boolean): Promise<string> {
  if (fromStdin) {
    const text = await io.readStdin();
    if (text === undefined) throw new UsageError('--password-stdin: stdin is a terminal; pipe the password in');
    return checkNewPassword(text.replace(/\r?\n$/, ''));
  }
  const prompt = io.prompt ?? terminalPrompt();
  if (prompt === undefined) throw new UsageError('no terminal to ask for the password on: pipe it in with --password-stdin');
  const first = checkNewPassword(await prompt('Password: '));
  if ((await prompt('Password again: ')) !== first) throw invalidArgument('the two passwords differ', { field: 'password' });
  return first;
}

export async function withStore<T>(io: CliIO, dataDirOption: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const url = io.env.DATABASE_URL !== undefined && io.env.DATABASE_URL !== '' ? io.env.DATABASE_URL : undefined;
  const { createStore, openDatabase } = await storageLayer();
  const database = await openDatabase({ url, dataDir: dataDirOf(dataDirOption, io) });
  try {
    // Users and sessions hold nothing sealed, so these commands never need the master key (and
    // must not create one in the data directory): the store gets a throwaway key it never uses.
    return await fn(createStore(database, MasterKey.generate()));
  } finally {
    await database.close();
  }
}

export const users: Command = {
  name: 'users',
  summary: 'add, list or remove the people who approve requests (local database)',
  help: `Usage: tessera users add <name> --group <group> [--group <group>...] [--password-stdin] [--require-passkey]
       tessera users passwd <name> [--password-stdin]
       tessera users list [--json]
       tessera users remove <name>

Approvers sign in to the approval pages (/approve/) to approve or deny discharge requests
addressed to them ("approve <name> …") or to a group of theirs ("approve group:<group> …").
This works on the database directly; no server needs to run.

add     Adds a user. The password is asked twice without echo, or read from stdin.
passwd  Sets a new password and ends the user's browser sessions.
list    Lists users and their groups.
remove  Removes a user and ends their sessions.

Names of users and groups: 1-64 of a-z 0-9 . _ - (starting with a letter or digit).
Passwords: at least 8 characters, hashed with scrypt.

Options:
  -g, --group <group>  a group the user belongs to (repeatable; add needs at least one)
  --password-stdin     read the password from stdin (one trailing newline is removed)
  --require-passkey    users add: the user signs in and approves only with a passkey (the
                       password lets them in once, to register one; see tessera groups)
  --json               users list: print [{ name, groups, createdAt }] as JSON
  --data-dir <dir>     the embedded database's directory (default TESSERA_DATA_DIR or ./.tessera)
  -h, --help           show this help

Environment:
  DATABASE_URL         use this PostgreSQL database instead of the embedded one

Example:
  printf '%s\\n' "$PASSWORD" | tessera users add alice --group ops --password-stdin`,
  options: {
    group: { type: 'string', multiple: true, short: 'g' },
    'password-stdin': { type: 'boolean' },
    'require-passkey': { type: 'boolean' },
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 2 },
  actions: ['add', 'passwd', 'list', 'remove'],
  async run(args, cli) {
    const io = cli as UsersIO;
    const [action, name] = args.positionals;
    const groups = strs(args, 'group');
    const fromStdin = bool(args, 'password-stdin');
    const dataDir = str(args, 'data-dir');
    if (action === 'list' ? name !== undefined : name === undefined) {
      throw new UsageError(action === 'list' ? 'users list takes no name' : `users ${action ?? ''} needs a user name`);
    }
    if (action !== 'list' && bool(args, 'json')) throw new UsageError('--json is only for users list');
    if (action !== 'add' && groups.length > 0) throw new UsageError('--group is only for users add');
    const requirePasskey = bool(args, 'require-passkey');
    if (action !== 'add' && requirePasskey) throw new UsageError('--require-passkey is only for users add');
    if (action !== 'add' && action !== 'passwd' && fromStdin) throw new UsageError('--password-stdin is only for users add and users passwd');

    switch (action) {
      case 'add': {
        const user = checkName('user', name);
        if (groups.length === 0) throw new UsageError('users add needs at least one --group');
        for (const g of groups) checkName('group', g);
        const passwordHash = await hashPassword(await newPassword(io, fromStdin));
        await withStore(io, dataDir, async (store) => {
          if ((await store.users.get(user)) !== undefined) throw new TesseraError('ERR_CONFLICT', `there is already a user ${user}`);
          await store.users.create({ name: user, passwordHash, groups, requirePasskey });
        });
        io.out(`added user ${user} (groups: ${[...new Set(groups)].join(', ')})${requirePasskey ? '; signs in only with a passkey' : ''}`);
        return 0;
      }
      case 'passwd': {
        const user = checkName('user', name);
        const passwordHash = await hashPassword(await newPassword(io, fromStdin));
        const ended = await withStore(io, dataDir, async (store) => {
          await store.users.update(user, { passwordHash });
          return store.sessions.revokeAllForUser(user);
        });
        io.out(`changed the password of ${user}; ended ${ended} session(s)`);
        return 0;
      }
      case 'list': {
        const all = await withStore(io, dataDir, (store) => store.users.list());
        if (bool(args, 'json')) io.out(pretty(all.map((u) => ({ name: u.name, groups: u.groups, createdAt: u.createdAt.toISOString() }))));
        else for (const u of all) io.out(`${u.name}\t${u.groups.join(',')}\tadded ${when(u.createdAt)}`);
        return 0;
      }
      case 'remove': {
        const user = checkName('user', name);
        if (!(await withStore(io, dataDir, (store) => store.users.remove(user)))) throw new TesseraError('ERR_NOT_FOUND', `there is no user ${user}`);
        io.out(`removed user ${user}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown users action "${String(action).slice(0, 20)}": use add, passwd, list or remove`);
    }
  },
};
