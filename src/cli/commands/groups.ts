/**
 * `tessera groups`: settings of the approvers' groups, where `tessera users` acts: through a
 * running server's admin API (GET /v1/groups, POST /v1/groups/<name>/<setting>), or directly on
 * the database when no server holds it.
 *
 *   tessera groups list [--json]               every group: its members, passkey-only or not
 *   tessera groups require-passkey <group>     members sign in and approve only with a passkey
 *   tessera groups allow-password <group>      members may use their password again
 *   tessera groups allow-approver-tokens <group> / refuse-approver-tokens <group>
 *
 * A group exists as long as a user names it; its passkey setting is kept by name (so it can be
 * set before the first member is added). Changes are audited (actor `cli`, or the admin token).
 */
import { SERVER_HELP, SERVER_OPTIONS, bool, str, type Command } from '../command.js';
import { GROUP_SETTINGS, checkAccountName, createAccounts, type GroupSetting, type GroupView } from '../../discharge/accounts.js';
import { api } from '../client.js';
import { UsageError, dataDirOf, pretty } from '../io.js';
import { adminTarget, type AdminTarget } from '../local-system.js';

/** What each action does, against a server or on the database. */
interface Groups {
  list(): Promise<readonly GroupView[]>;
  set(group: string, setting: GroupSetting): Promise<boolean>;
  close(): Promise<void>;
}

async function groupsAt(target: AdminTarget): Promise<Groups> {
  const { server, database, store } = target;
  if (server !== undefined) {
    return {
      list: async () => (await api<{ groups: GroupView[] }>(server, 'GET', '/v1/groups')).groups,
      set: async (group, setting) => (await api<{ changed: boolean }>(server, 'POST', `/v1/groups/${encodeURIComponent(group)}/${setting}`, {})).changed,
      close: async () => undefined,
    };
  }
  const accounts = createAccounts({ store });
  return { list: () => accounts.groups(), set: (group, setting) => accounts.setGroup(group, setting, { actor: 'cli' }), close: () => database.close() };
}

export const groups: Command = {
  name: 'groups',
  summary: 'list approver groups; make a group passkey-only',
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

Where: as tessera users does. With --url or --token (or TESSERA_URL / TESSERA_ADMIN_TOKEN)
through that server's admin API (users:read for list, users:write for the others); otherwise
directly on the database, or through the running server that holds the embedded one.

Options:
  --json            groups list: print [{ name, members, requirePasskey, approverTokens }]
  -h, --help        show this help

${SERVER_HELP}

Environment:
  DATABASE_URL      use this PostgreSQL database instead of the embedded one

Example:
  tessera groups require-passkey ops`,
  options: {
    ...SERVER_OPTIONS,
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 2 },
  actions: ['list', ...GROUP_SETTINGS],
  async run(args, io) {
    const [action, name] = args.positionals;
    if (action !== 'list' && !(GROUP_SETTINGS as readonly string[]).includes(action ?? '')) {
      throw new UsageError(`unknown groups action "${String(action).slice(0, 20)}": use list, ${GROUP_SETTINGS.join(', ')}`);
    }
    if (action === 'list' ? name !== undefined : name === undefined) {
      throw new UsageError(action === 'list' ? 'groups list takes no name' : `groups ${action ?? ''} needs a group name`);
    }
    if (action !== 'list' && bool(args, 'json')) throw new UsageError('--json is only for groups list');
    const group = name === undefined ? '' : checkAccountName('group', name);
    const groups = await groupsAt(await adminTarget(args, io, dataDirOf(str(args, 'data-dir'), io)));
    try {
      if (action === 'list') {
        const found = await groups.list();
        if (bool(args, 'json')) io.out(pretty(found));
        else for (const g of found) io.out(`${g.name}\t${g.requirePasskey ? 'passkey only' : 'password or passkey'}\t${g.members.join(',')}`);
        return 0;
      }
      const setting = action as GroupSetting;
      const now = (await groups.set(group, setting)) ? 'now' : 'already';
      io.out(
        setting === 'require-passkey' || setting === 'allow-password'
          ? `group ${group} ${now} ${setting === 'require-passkey' ? 'signs in and approves only with a passkey' : 'may use passwords'}`
          : `group ${group}: approver tokens ${now} ${setting === 'allow-approver-tokens' ? 'approve its requests' : 'refused for its requests (a passkey sign-in approves)'}`,
      );
      return 0;
    } finally {
      await groups.close();
    }
  },
};
