/**
 * `tessera users`: the approvers of the approval pages, managed directly on the database (a
 * local admin action, like creating the first admin token).
 *
 *   tessera users add <name> --group <g> [--group <g2>] [--password-stdin]
 *   tessera users passwd <name> [--password-stdin]     new password; signs the user out everywhere
 *   tessera users list
 *   tessera users remove <name>                        also ends the user's sessions
 *
 * Options: `--data-dir <dir>` (embedded database, default `.tessera`), or DATABASE_URL for
 * PostgreSQL. The password is read from a prompt that does not echo (asked twice), or, with
 * `--password-stdin`, from standard input (one trailing newline removed). It is hashed with
 * scrypt (src/discharge/web/passwords.ts) and never printed or logged.
 *
 * Names of users and groups follow the discharge conditions' grammar (`approve <who> <what>`),
 * so every user can be named in a condition: lowercase letters, digits, `.`, `_`, `-`.
 */
import { parseArgs } from 'node:util';
import { TesseraError, invalidArgument, isTesseraError } from '../../errors.js';
import { NAME_PATTERN } from '../../discharge/conditions.js';
import { checkNewPassword, hashPassword, MAX_PASSWORD_LENGTH } from '../../discharge/web/passwords.js';
import { MasterKey, createStore, openDatabase, type Store } from '../../storage/index.js';

/** Where the command reads and writes; `process` by default. */
export interface UsersIo {
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

export const USERS_USAGE = `usage:
  tessera users add <name> --group <group> [--group <group>...] [--password-stdin]
  tessera users passwd <name> [--password-stdin]
  tessera users list
  tessera users remove <name>
options: --data-dir <dir> (default .tessera; DATABASE_URL selects PostgreSQL instead)
`;

const DEFAULT_DATA_DIR = '.tessera';

function checkName(kind: 'user' | 'group', name: string | undefined): string {
  if (name === undefined || !NAME_PATTERN.test(name)) {
    throw invalidArgument(`a ${kind} name must be 1-64 of a-z 0-9 . _ - (starting with a letter or digit)`, { field: kind });
  }
  return name;
}

/** Read all of stdin as the password: one trailing newline is removed, nothing else. */
async function passwordFromStdin(stdin: UsersIo['stdin']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += b.length;
    if (size > MAX_PASSWORD_LENGTH * 4 + 2) throw new TesseraError('ERR_LIMIT', 'the password on stdin is too long');
    chunks.push(b);
  }
  const text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  return text.replace(/\r?\n$/, '');
}

/** Prompt on a terminal without echoing what is typed. */
function promptHidden(io: UsersIo, question: string): Promise<string> {
  const { stdin } = io;
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
      if (error === undefined) resolve(typed);
      else reject(error);
    };
    const onData = (data: Buffer | string): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new TesseraError('ERR_INVALID_ARGUMENT', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else if (typed.length <= MAX_PASSWORD_LENGTH) typed += ch;
      }
    };
    io.stderr.write(question);
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

async function newPassword(io: UsersIo, fromStdin: boolean): Promise<string> {
  if (fromStdin) return checkNewPassword(await passwordFromStdin(io.stdin));
  if (io.stdin.isTTY !== true) {
    throw invalidArgument('no terminal to ask for the password on: pipe it in with --password-stdin', { field: 'password' });
  }
  const first = checkNewPassword(await promptHidden(io, 'Password: '));
  const second = await promptHidden(io, 'Password again: ');
  if (first !== second) throw invalidArgument('the two passwords differ', { field: 'password' });
  return first;
}

async function withStore<T>(dataDir: string, env: UsersIo['env'], fn: (store: Store) => Promise<T>): Promise<T> {
  const database = await openDatabase({ url: env.DATABASE_URL, dataDir });
  try {
    // Users and sessions hold nothing sealed, so these commands never need the master key
    // (and must not create one): the store gets a throwaway key it will not use.
    return await fn(createStore(database, MasterKey.generate()));
  } finally {
    await database.close();
  }
}

/** Run `tessera users …` with `args` after `users`; returns the exit code. */
export async function runUsers(args: readonly string[], io: UsersIo = process as unknown as UsersIo): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        group: { type: 'string', multiple: true, short: 'g' },
        'password-stdin': { type: 'boolean' },
        'data-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    const [action, name, ...extra] = positionals;
    if (values.help === true || action === undefined) {
      (values.help === true ? io.stdout : io.stderr).write(USERS_USAGE);
      return values.help === true ? 0 : 2;
    }
    const dataDir = values['data-dir'] ?? DEFAULT_DATA_DIR;
    const groups = values.group ?? [];
    const arity = action === 'list' ? 0 : 1;
    if ((arity === 1 && name === undefined) || extra.length > 0 || (arity === 0 && name !== undefined)) {
      io.stderr.write(USERS_USAGE);
      return 2;
    }
    if (action !== 'add' && groups.length > 0) throw invalidArgument('--group is only for users add', { field: 'group' });
    if (action !== 'add' && action !== 'passwd' && values['password-stdin'] === true) {
      throw invalidArgument('--password-stdin is only for users add and users passwd', { field: 'password' });
    }

    switch (action) {
      case 'add': {
        const user = checkName('user', name);
        if (groups.length === 0) throw invalidArgument('give the user at least one --group (or --group with their own name)', { field: 'group' });
        for (const g of groups) checkName('group', g);
        const passwordHash = await hashPassword(await newPassword(io, values['password-stdin'] === true));
        await withStore(dataDir, io.env, (store) => store.users.create({ name: user, passwordHash, groups }));
        io.stdout.write(`added user ${user} (groups: ${[...new Set(groups)].join(', ')})\n`);
        return 0;
      }
      case 'passwd': {
        const user = checkName('user', name);
        const passwordHash = await hashPassword(await newPassword(io, values['password-stdin'] === true));
        const ended = await withStore(dataDir, io.env, async (store) => {
          await store.users.update(user, { passwordHash });
          return store.sessions.revokeAllForUser(user);
        });
        io.stdout.write(`changed the password of ${user}; ended ${ended} session(s)\n`);
        return 0;
      }
      case 'list': {
        const users = await withStore(dataDir, io.env, (store) => store.users.list());
        for (const u of users) io.stdout.write(`${u.name}\t${u.groups.join(',')}\t${u.createdAt.toISOString()}\n`);
        return 0;
      }
      case 'remove': {
        const user = checkName('user', name);
        const removed = await withStore(dataDir, io.env, (store) => store.users.remove(user));
        if (!removed) throw new TesseraError('ERR_NOT_FOUND', `no user ${user}`);
        io.stdout.write(`removed user ${user}\n`);
        return 0;
      }
      default:
        io.stderr.write(USERS_USAGE);
        return 2;
    }
  } catch (e) {
    if (isTesseraError(e)) {
      const message = e.code === 'ERR_CONFLICT' ? 'that user already exists' : e.message;
      io.stderr.write(`tessera users: ${message} (${e.code})\n`);
      return 1;
    }
    if (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`tessera users: ${e.message}\n${USERS_USAGE}`);
      return 2;
    }
    throw e;
  }
}
