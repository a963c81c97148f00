/** `tessera keys rotate|list`: root key rotation and listing (server). */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { api } from '../client.js';
import { SERVER_HELP, SERVER_OPTIONS, bool, str, type Command } from '../command.js';
import { GRACE_BOUNDS } from '../../issuer/keyring.js';
import { UsageError, adminTokenOf, dataDirOf, parseDuration, pretty, serverUrlOf, when } from '../io.js';

interface KeyJson {
  readonly id: string;
  readonly state: string;
  readonly createdAt: string;
  readonly expiresAt: string | null;
  readonly retiredAt: string | null;
}

const describeKey = (k: KeyJson): string =>
  `${k.id}  ${k.state.padEnd(9)}  created ${when(k.createdAt)}${k.retiredAt ? `  retired ${when(k.retiredAt)}` : k.expiresAt ? `  verifies until ${when(k.expiresAt)}` : ''}`;

/** Replace a file's content atomically, owner-only. */
async function replaceFile(path: string, content: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

export const keys: Command = {
  name: 'keys',
  summary: 'rotate or list root keys (server)',
  help: `Usage: tessera keys rotate [--grace <duration>] [--retire-old] [--json]
       tessera keys list [--json]

rotate  Creates a new root key for minting. Tokens signed by older keys keep verifying for
        the grace period (default 7d), then fail with ERR_KEY_RETIRED; --retire-old retires
        them at once (after a key leak). Your admin token is signed by a key too: the server
        hands back a replacement with the same caveats, which replaces <data-dir>/admin-token
        when that is where the token came from (otherwise it is printed).
list    Shows every root key: current, verifying (with its end), or retired.

Options:
  --grace <duration>  how long old keys still verify: 0, 90s, 15m, 2h, 7d…
  --retire-old        retire every older key now
  --json              print JSON
  -h, --help          show this help

${SERVER_HELP}`,
  options: { ...SERVER_OPTIONS, grace: { type: 'string' }, 'retire-old': { type: 'boolean' }, json: { type: 'boolean' } },
  positionals: { min: 1, max: 1 },
  actions: ['list', 'rotate'],
  async run(args, io) {
    const sub = args.positionals[0];
    if (sub !== 'rotate' && sub !== 'list') throw new UsageError('keys takes "rotate" or "list"');
    const admin = await adminTokenOf(str(args, 'token'), dataDirOf(str(args, 'data-dir'), io), io);
    const options = { url: serverUrlOf(str(args, 'url'), io), token: admin.token };
    if (sub === 'list') {
      if (str(args, 'grace') !== undefined || bool(args, 'retire-old')) throw new UsageError('--grace and --retire-old go with "keys rotate"');
      const answer = await api<{ keys: KeyJson[] }>(options, 'GET', '/v1/keys');
      io.out(bool(args, 'json') ? pretty(answer) : answer.keys.map(describeKey).join('\n'));
      return;
    }
    const grace = str(args, 'grace');
    const body = { ...(grace !== undefined ? { graceSeconds: parseDuration(grace, 'grace', GRACE_BOUNDS) } : {}), ...(bool(args, 'retire-old') ? { retireOld: true } : {}) };
    const answer = await api<{ current: KeyJson; previous: KeyJson[]; adminToken?: string; adminIdentifier?: string }>(options, 'POST', '/v1/keys/rotate', body);
    let saved = false;
    if (answer.adminToken !== undefined && admin.source === 'file') {
      await replaceFile(admin.file, `${answer.adminToken}\n`);
      saved = true;
    }
    if (bool(args, 'json')) {
      io.out(pretty(saved ? { ...answer, adminToken: undefined, adminTokenFile: admin.file } : answer));
      return;
    }
    io.out(`current key: ${describeKey(answer.current)}`);
    for (const k of answer.previous) io.out(`older key:   ${describeKey(k)}`);
    if (saved) io.out(`admin token reissued under the new key and saved to ${admin.file}`);
    else if (answer.adminToken !== undefined) io.out(`your admin token was reissued under the new key (keep it secret):\n${answer.adminToken}`);
    else io.out('note: your admin token could not be reissued (it has usage-limited or third-party caveats); it stops working when its key retires');
  },
};
