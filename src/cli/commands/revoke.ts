/** `tessera revoke`: revoke a token (and every attenuation of it) on the server. */
import { isIdentifier } from '../../issuer/identifier.js';
import { api } from '../client.js';
import { SERVER_HELP, SERVER_OPTIONS, bool, str, type Command } from '../command.js';
import { adminTokenOf, dataDirOf, pretty, readValue, serverUrlOf } from '../io.js';

export const revoke: Command = {
  name: 'revoke',
  summary: 'revoke a token and all its attenuations (server)',
  help: `Usage: tessera revoke [<token>|<identifier>|-] [--reason <text>] [--json]

Revokes a token by its identifier: the token and every attenuation of it (they share the
identifier) are refused by every verifier from now on. The revocation is durable before
this command returns. Give the token, or its identifier (tsr1.…, see "tessera inspect");
read from stdin when "-" or missing.

Options:
  --reason <text>   why (kept in the audit log and shown in status)
  --json            print JSON
  -h, --help        show this help

${SERVER_HELP}`,
  options: { ...SERVER_OPTIONS, reason: { type: 'string' }, json: { type: 'boolean' } },
  positionals: { min: 0, max: 1 },
  async run(args, io) {
    const value = await readValue(args.positionals[0], io, 'token or identifier');
    const reason = str(args, 'reason');
    const body = { ...(isIdentifier(value) ? { identifier: value } : { token: value }), ...(reason !== undefined ? { reason } : {}) };
    const { token } = await adminTokenOf(str(args, 'token'), dataDirOf(str(args, 'data-dir'), io), io);
    const answer = await api<{ identifier: string; alreadyRevoked: boolean }>({ url: serverUrlOf(str(args, 'url'), io), token }, 'POST', '/v1/tokens/revoke', body);
    if (bool(args, 'json')) io.out(pretty(answer));
    else io.out(`${answer.alreadyRevoked ? 'already revoked' : 'revoked'}: ${answer.identifier}`);
  },
};
