/**
 * `tessera groups`: settings of the approvers' groups, on the database directly like `users`.
 *
 *   tessera groups list [--json]               every group: its members, passkey-only or not
 *   tessera groups require-passkey <group>     members sign in and approve only with a passkey
 *   tessera groups allow-password <group>      members may use their password again
 *
 * A group exists as long as a user names it; its passkey setting is kept by name (so it can be
 * set before the first member is added). Changes are audited (actor `cli`).
 */
import { bool, str, type Command } from '../command.js';
import { checkAccountName } from '../../discharge/accounts.js';
import type { Store } from '../../storage/index.js';
import { UsageError, dataDirOf, pretty, type CliIO } from '../io.js';
import { withLocalStore } from '../local-system.js';

export const groups: Command = {
  name: 'groups',
  summary: 'list approver groups; make a group passkey-only (local database)',
  help: `Usage: tessera groups list [--json]
       tessera groups require-passkey <group>
       tessera groups allow-password <group>
       tessera groups allow-approver-tokens <group>
       tessera groups refuse-approver-tokens <group>

Members of a passkey-only group sign in to the approval pages and approve only with a
passkey: their password is refused once they have registered one (before that it lets them in
once, to register it at /approve/passkeys), and no password session can approve a request
addressed to the group. A single user can be made passkey-only with
"tessera users add <name> --group <g> --require-passkey".

list             Lists every group with its members, and which are passkey-only.
require-passkey  Makes a group passkey-only.
allow-password   Lets the group's members use passwords again.
allow-approver-tokens   Lets the members' approver tokens (the approvals API, for chat bots)
                 approve the passkey-only group's requests; refused unless allowed.
refuse-approver-tokens  Takes that back.

Options:
  --json            groups list: print [{ name, members, requirePasskey }] as JSON
  --data-dir <dir>  the embedded database's directory (default TESSERA_DATA_DIR or ./.tessera)
  -h, --help        show this help

Environment:
  DATABASE_URL      use this PostgreSQL database instead of the embedded one

Example:
  tessera groups require-passkey ops`,
  options: {
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 2 },
  actions: ['list', 'require-passkey', 'allow-password', 'allow-approver-tokens', 'refuse-approver-tokens'],
  async run(args, io) {
    const [action, name] = args.positionals;
    const dataDir = dataDirOf(str(args, 'data-dir'), io);
    if (action === 'list' ? name !== undefined : name === undefined) {
      throw new UsageError(action === 'list' ? 'groups list takes no name' : `groups ${action ?? ''} needs a group name`);
    }
    if (action !== 'list' && bool(args, 'json')) throw new UsageError('--json is only for groups list');
    switch (action) {
      case 'list': {
        const found = await withLocalStore(io, dataDir, async (store) => {
          const passkeyOnly = new Set(await store.passkeys.passkeyGroups());
          const members = new Map<string, string[]>([...passkeyOnly].map((g) => [g, []]));
          for (const u of await store.users.list()) for (const g of u.groups) members.set(g, [...(members.get(g) ?? []), u.name]);
          return [...members].sort(([a], [b]) => a.localeCompare(b)).map(([group, names]) => ({ name: group, members: names, requirePasskey: passkeyOnly.has(group) }));
        });
        if (bool(args, 'json')) io.out(pretty(found));
        else for (const g of found) io.out(`${g.name}\t${g.requirePasskey ? 'passkey only' : 'password or passkey'}\t${g.members.join(',')}`);
        return 0;
      }
      case 'require-passkey':
      case 'allow-password': {
        const group = checkAccountName('group', name);
        const required = action === 'require-passkey';
        const changed = await changeGroup(io, dataDir, group, action, (passkeys) => passkeys.setGroupRequirement(group, required));
        io.out(`group ${group} ${changed ? 'now' : 'already'} ${required ? 'signs in and approves only with a passkey' : 'may use passwords'}`);
        return 0;
      }
      case 'allow-approver-tokens':
      case 'refuse-approver-tokens': {
        const group = checkAccountName('group', name);
        const allowed = action === 'allow-approver-tokens';
        const changed = await changeGroup(io, dataDir, group, action, (passkeys) => passkeys.setGroupApproverTokens(group, allowed));
        io.out(`group ${group}: approver tokens ${changed ? 'now' : 'already'} ${allowed ? 'approve its requests' : 'refused for its requests (a passkey sign-in approves)'}`);
        return 0;
      }
      default:
        throw new UsageError(`unknown groups action "${String(action).slice(0, 20)}": use list, require-passkey, allow-password, allow-approver-tokens or refuse-approver-tokens`);
    }
  },
};

/** Change a group's setting and audit it (`group-<action>`, actor cli) in one transaction; true when it changed. */
function changeGroup(io: CliIO, dataDir: string, group: string, action: string, change: (passkeys: Store['passkeys']) => Promise<boolean>): Promise<boolean> {
  return withLocalStore(io, dataDir, (store) =>
    store.transaction(async (tx) => {
      const did = await change(tx.passkeys);
      if (did) await tx.audit.append({ actor: 'cli', action: `group-${action}`, subject: `group:${group}` });
      return did;
    }),
  );
}
