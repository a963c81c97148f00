/** `tessera status`: what the server knows about a token. */
import { isIdentifier } from '../../issuer/identifier.js';
import { api } from '../client.js';
import { SERVER_HELP, SERVER_OPTIONS, bool, str, type Command } from '../command.js';
import { adminTokenOf, dataDirOf, pretty, readValue, serverUrlOf, when } from '../io.js';
import { inspectToken } from './inspect.js';

export const status: Command = {
  name: 'status',
  summary: 'show whether a token is active, revoked or expired (server)',
  help: `Usage: tessera status [<token>|<identifier>|-] [--json]

Shows what the server recorded about a token: label, key, creation, expiry, revocation.

Options:
  --json       print JSON
  -h, --help   show this help

${SERVER_HELP}`,
  options: { ...SERVER_OPTIONS, json: { type: 'boolean' } },
  positionals: { min: 0, max: 1 },
  async run(args, io) {
    const value = await readValue(args.positionals[0], io, 'token or identifier');
    const identifier = isIdentifier(value) ? value : inspectToken(value).identifier;
    const { token } = await adminTokenOf(str(args, 'token'), dataDirOf(str(args, 'data-dir'), io), io);
    const s = await api<Record<string, unknown>>({ url: serverUrlOf(str(args, 'url'), io), token }, 'GET', `/v1/tokens/${encodeURIComponent(identifier)}`);
    if (bool(args, 'json')) {
      io.out(pretty(s));
      return;
    }
    const state = s.revoked === true ? 'revoked' : s.active === true ? 'active' : 'inactive';
    const rows: [string, unknown][] = [
      ['identifier', s.identifier],
      ['state', state],
      ['label', s.label],
      ['subject', s.subject],
      ['root key', `${String(s.keyId)} (${String(s.keyState)})`],
      ['created', when(String(s.createdAt))],
      ['expires', typeof s.expiresAt === 'string' ? when(s.expiresAt) : 'never (unless its caveats say so)'],
      ['revoked', s.revoked === true ? `${when(String(s.revokedAt))}${s.revocationReason ? ` (${String(s.revocationReason)})` : ''}` : 'no'],
    ];
    io.out(rows.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${k.padEnd(11)} ${String(v)}`).join('\n'));
  },
};
