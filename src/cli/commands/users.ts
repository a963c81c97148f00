/**
 * `tessera users`: the approvers of the approval pages.
 *
 *   tessera users add <name> --group <g> [--group <g2>] [--password-stdin]
 *   tessera users passwd <name> [--password-stdin]     new password; signs the user out everywhere
 *   tessera users list
 *   tessera users remove <name>                        also ends the user's sessions
 *   tessera users invite <name> --group <g>...         a one-time enrolment link, valid 24 h
 *   tessera users token <name> [--ttl 30d]             an approver token for the approvals API
 *
 * Where: against a running server through the admin API (ops users:read / users:write) when a
 * server is named (--url, --token, TESSERA_URL or TESSERA_ADMIN_TOKEN); otherwise directly on the
 * database (DATABASE_URL, or the embedded one in the data directory). When the embedded
 * database is held by a running server, the command goes through that server's API (its URL
 * is in <data-dir>/server-url, the admin token in <data-dir>/admin-token), and says so.
 *
 * The password comes from a prompt that does not echo (asked twice), or with --password-stdin
 * from standard input (one trailing newline removed); never from the command line. Locally it
 * is hashed here; to a server it goes in the request body, hashed there. It is never printed or
 * logged (src/discharge/accounts.ts).
 *
 * User and group names follow the discharge conditions' grammar (`approve <who> <what>`, see
 * src/tickets/conditions.ts) so every user and group can be named in a condition.
 */
import { checkAccountName, createAccounts, inviteUrl } from '../../discharge/accounts.js';
import { mintApproverToken } from '../../discharge/approver-tokens.js';
import { checkNewPassword, MAX_PASSWORD_LENGTH } from '../../discharge/web/passwords.js';
import { TesseraError, invalidArgument } from '../../errors.js';
import { TTL_BOUNDS } from '../../issuer/issuer.js';
import { SERVER_URL_FILE } from '../../server/defaults.js';
import type { Database, Store } from '../../storage/index.js';
import { api, type ApiOptions } from '../client.js';
import { adminTarget, withLocalSystem } from '../local-system.js';
import { SERVER_HELP, SERVER_OPTIONS, bool, str, strs, type Command, type ParsedArgs } from '../command.js';
import { UsageError, dataDirOf, parseDuration, pretty, serverUrlOf, when, type CliIO } from '../io.js';

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

interface UserRow {
  readonly name: string;
  readonly groups: readonly string[];
  readonly createdAt: string;
}

interface Invitation {
  readonly url: string;
  readonly expiresAt: string;
}

interface ApproverToken {
  readonly token: string;
  readonly identifier: string;
  readonly expiresAt: string | null;
}

/** What each action does, against a server or on the database. */
interface Backend {
  add(name: string, groups: readonly string[], password: string, requirePasskey: boolean): Promise<void>;
  passwd(name: string, password: string): Promise<number>;
  list(): Promise<readonly UserRow[]>;
  remove(name: string): Promise<void>;
  invite(name: string, groups: readonly string[]): Promise<Invitation>;
  token(name: string, ttl: string | undefined): Promise<ApproverToken>;
  close(): Promise<void>;
}

function serverBackend(server: ApiOptions): Backend {
  const path = (name: string, action: string): string => `/v1/users/${encodeURIComponent(name)}/${action}`;
  return {
    add: async (name, groups, password, requirePasskey) => void (await api(server, 'POST', '/v1/users', { name, groups, password, ...(requirePasskey ? { requirePasskey } : {}) })),
    passwd: async (name, password) => (await api<{ sessionsEnded: number }>(server, 'POST', path(name, 'password'), { password })).sessionsEnded,
    list: async () => (await api<{ users: UserRow[] }>(server, 'GET', '/v1/users')).users,
    remove: async (name) => void (await api(server, 'POST', path(name, 'remove'), {})),
    invite: (name, groups) => api<Invitation>(server, 'POST', '/v1/invites', { name, groups }),
    token: (name, ttl) => api<ApproverToken>(server, 'POST', path(name, 'approver-token'), ttl === undefined ? {} : { ttl }),
    close: async () => undefined,
  };
}

const CLI_ACTOR = { actor: 'cli' } as const;

/** The actions on an open database; only `token` needs the master key (it mints). */
function localBackend(database: Database, store: Store, io: CliIO, dataDir: string, publicUrl: string): Backend {
  const accounts = createAccounts({ store });
  let open = true;
  const close = async (): Promise<void> => {
    if (open) await database.close();
    open = false;
  };
  const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());
  return {
    add: async (name, groups, password, requirePasskey) => void (await accounts.add({ name, groups, password, requirePasskey }, CLI_ACTOR)),
    passwd: async (name, password) => (await accounts.setPassword(name, password, CLI_ACTOR)).sessionsEnded,
    list: async () => (await accounts.list()).map((u) => ({ name: u.name, groups: u.groups, createdAt: u.createdAt.toISOString() })),
    remove: (name) => accounts.remove(name, CLI_ACTOR),
    invite: async (name, groups) => {
      const invite = await accounts.invite({ name, groups }, CLI_ACTOR);
      return { url: inviteUrl(publicUrl, invite.token), expiresAt: invite.expiresAt.toISOString() };
    },
    token: async (name, ttl) => {
      const ttlSeconds = ttl === undefined ? undefined : parseDuration(ttl, 'ttl', TTL_BOUNDS);
      if ((await accounts.get(name)) === undefined) throw new TesseraError('ERR_NOT_FOUND', `there is no user ${name}`, { field: 'name' });
      // Minting needs the keyring: the whole system, on this database (closed first: one holder).
      await close();
      const minted = await withLocalSystem(io, dataDir, publicUrl, (system) =>
        mintApproverToken(system.issuer, { name, actor: 'cli', ...(ttlSeconds !== undefined ? { ttlSeconds } : {}) }),
      );
      return { token: minted.token, identifier: minted.identifier, expiresAt: iso(minted.expiresAt) };
    },
    close,
  };
}

/** Where to act (`adminTarget`): a server's admin API, or the database. */
async function connect(args: ParsedArgs, io: CliIO): Promise<Backend> {
  const dataDir = dataDirOf(str(args, 'data-dir'), io);
  const publicUrl = io.env.TESSERA_PUBLIC_URL !== undefined && io.env.TESSERA_PUBLIC_URL !== '' ? io.env.TESSERA_PUBLIC_URL : serverUrlOf(str(args, 'url'), io);
  const target = await adminTarget(args, io, dataDir);
  if (target.server !== undefined) return serverBackend(target.server);
  return localBackend(target.database, target.store, io, dataDir, publicUrl);
}

const ACTIONS = ['add', 'passwd', 'list', 'remove', 'invite', 'token'] as const;
type Action = (typeof ACTIONS)[number];

export const users: Command = {
  name: 'users',
  summary: 'add, list or remove the people who approve requests; invite them; approver tokens',
  help: `Usage: tessera users add <name> --group <group> [--group <group>...] [--password-stdin] [--require-passkey]
       tessera users passwd <name> [--password-stdin]
       tessera users list [--json]
       tessera users remove <name>
       tessera users invite <name> --group <group> [--group <group>...] [--json]
       tessera users token <name> [--ttl <duration>] [--json]

Approvers sign in to the approval pages (/approve/) to approve or deny discharge requests
addressed to them ("approve <name> …") or to a group of theirs ("approve group:<group> …").

add     Adds a user. The password is asked twice without echo, or read from stdin.
passwd  Sets a new password and ends the user's browser sessions.
list    Lists users and their groups.
remove  Removes a user and ends their sessions.
invite  Prints a link (valid 24 hours, usable once) where the person chooses their own password
        (or a passkey), so nobody types another person's password. The user exists once they have used it.
        An existing user is invited again only to finish a passkey setup: passkey-only, no
        passkey registered yet, the same groups.
token   Prints an approver token: "aud tessera-approvals" and "declared user <name>", valid 30 days
        (or --ttl). With it a program decides for that person through the approvals API
        (GET /v1/approvals, POST /v1/approvals/<id>/approve|deny). Narrow it before handing it
        to a bot: tessera attenuate <token> --caveat "resource /v1/approvals/<id>" (one request),
        --caveat "ops approvals:read", --caveat "time-before <time>". Revoke it: tessera revoke.

Where: with --url or --token (or TESSERA_URL / TESSERA_ADMIN_TOKEN) through that server's admin
API, which needs an admin token allowing users:read (list) or users:write. Otherwise directly on
the database: DATABASE_URL, or the embedded one in the data directory; when a running server holds
the embedded database, through that server (found in <data-dir>/${SERVER_URL_FILE}).

Names of users and groups: 1-64 of a-z 0-9 . _ - (starting with a letter or digit).
Passwords: at least 8 characters, hashed with scrypt; never given on the command line.

Options:
  -g, --group <group>  a group the user belongs to (repeatable; add and invite need at least one)
  --password-stdin     read the password from stdin (one trailing newline is removed)
  --require-passkey    users add: the user signs in and approves only with a passkey (the
                       password lets them in once, to register one; see tessera groups)
  --ttl <duration>     users token: its lifetime (e.g. 12h, 30d; default 30d)
  --json               list: [{ name, groups, createdAt }]; invite: { url, expiresAt };
                       token: { token, identifier, expiresAt }
  -h, --help           show this help

${SERVER_HELP}

Environment:
  DATABASE_URL         use this PostgreSQL database instead of the embedded one
  TESSERA_PUBLIC_URL   the server's public URL, for invitation links made on the database

Examples:
  printf '%s\\n' "$PASSWORD" | tessera users add alice --group ops --password-stdin
  tessera users invite bob --group ops
  tessera users token alice --ttl 7d`,
  options: {
    ...SERVER_OPTIONS,
    group: { type: 'string', multiple: true, short: 'g' },
    'password-stdin': { type: 'boolean' },
    'require-passkey': { type: 'boolean' },
    ttl: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 2 },
  actions: ACTIONS,
  async run(args, cli) {
    const io = cli as UsersIO;
    const [word, name] = args.positionals;
    const action = ACTIONS.find((a) => a === word);
    if (action === undefined) throw new UsageError(`unknown users action "${String(word).slice(0, 20)}": use ${ACTIONS.join(', ')}`);
    const groups = strs(args, 'group');
    const fromStdin = bool(args, 'password-stdin');
    if (action === 'list' ? name !== undefined : name === undefined) {
      throw new UsageError(action === 'list' ? 'users list takes no name' : `users ${action} needs a user name`);
    }
    const only = (option: string, actions: readonly Action[]): void => {
      if (!actions.includes(action)) throw new UsageError(`--${option} is only for users ${actions.join(' and users ')}`);
    };
    if (bool(args, 'json')) only('json', ['list', 'invite', 'token']);
    if (groups.length > 0) only('group', ['add', 'invite']);
    if (fromStdin) only('password-stdin', ['add', 'passwd']);
    if (str(args, 'ttl') !== undefined) only('ttl', ['token']);
    const requirePasskey = bool(args, 'require-passkey');
    if (requirePasskey) only('require-passkey', ['add']);
    const user = name === undefined ? '' : checkAccountName('user', name);
    if (action === 'add' || action === 'invite') {
      if (groups.length === 0) throw new UsageError(`users ${action} needs at least one --group`);
      for (const g of groups) checkAccountName('group', g);
    }
    // The password is read before the database is opened: nothing is held while a person types.
    const password = action === 'add' || action === 'passwd' ? await newPassword(io, fromStdin) : undefined;
    const backend = await connect(args, io);
    try {
      await act(action, { backend, io, user, groups, password: password ?? '', json: bool(args, 'json'), ttl: str(args, 'ttl'), requirePasskey });
    } finally {
      await backend.close();
    }
    return 0;
  },
};

interface ActInput {
  readonly backend: Backend;
  readonly io: CliIO;
  readonly user: string;
  readonly groups: readonly string[];
  readonly password: string;
  readonly json: boolean;
  readonly ttl: string | undefined;
  readonly requirePasskey: boolean;
}

async function act(action: Action, { backend, io, user, groups, password, json, ttl, requirePasskey }: ActInput): Promise<void> {
  switch (action) {
    case 'add':
      await backend.add(user, groups, password, requirePasskey);
      io.out(`added user ${user} (groups: ${[...new Set(groups)].join(', ')})${requirePasskey ? '; signs in only with a passkey' : ''}`);
      return;
    case 'passwd':
      io.out(`changed the password of ${user}; ended ${await backend.passwd(user, password)} session(s)`);
      return;
    case 'list': {
      const all = await backend.list();
      if (json) io.out(pretty(all));
      else for (const u of all) io.out(`${u.name}\t${u.groups.join(',')}\tadded ${when(u.createdAt)}`);
      return;
    }
    case 'remove':
      await backend.remove(user);
      io.out(`removed user ${user}`);
      return;
    case 'invite': {
      const invite = await backend.invite(user, groups);
      if (json) return io.out(pretty({ url: invite.url, expiresAt: invite.expiresAt }));
      io.out(invite.url);
      io.err(`send this link to ${user}: it works once, until ${when(invite.expiresAt)}`);
      return;
    }
    case 'token': {
      const minted = await backend.token(user, ttl);
      if (json) return io.out(pretty({ token: minted.token, identifier: minted.identifier, expiresAt: minted.expiresAt }));
      io.out(minted.token);
      io.err(`approver token for ${user} (identifier ${minted.identifier}), valid until ${minted.expiresAt === null ? 'revoked' : when(minted.expiresAt)}; shown once`);
      return;
    }
  }
}
