/** `tessera mint`: ask the server for a new token. */
import { api } from '../client.js';
import { SERVER_HELP, SERVER_OPTIONS, bool, str, strs, type Command } from '../command.js';
import { TTL_BOUNDS } from '../../issuer/issuer.js';
import { adminTokenOf, dataDirOf, parseDuration, pretty, serverUrlOf } from '../io.js';

export const mint: Command = {
  name: 'mint',
  summary: 'mint a new token (server)',
  help: `Usage: tessera mint [--caveat <condition>...] [--ttl <duration>] [--label <text>] [--json]

Mints a token on the server and prints it (only the token, so TOKEN=$(tessera mint ...)
works). Caveats are checked by the server; a bad one is refused, named.

Options:
  --caveat <condition>  e.g. "ops read", "resource /docs/*", "uses 1" (repeatable)
  --ttl <duration>      lifetime: 90s, 15m, 2h, 7d (adds a time-before caveat)
  --label <text>        a note shown in status and the audit log
  --subject <text>      who or what the token is for
  --json                print the whole answer as JSON (token, identifier, caveats…)
  -h, --help            show this help

${SERVER_HELP}

Example:
  tessera mint --caveat "ops read" --caveat "resource /docs/*" --ttl 1h --label "docs reader"`,
  options: {
    ...SERVER_OPTIONS,
    caveat: { type: 'string', multiple: true },
    ttl: { type: 'string' },
    label: { type: 'string' },
    subject: { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(args, io) {
    const ttl = str(args, 'ttl');
    const body = {
      caveats: strs(args, 'caveat'),
      ...(ttl !== undefined ? { ttl: parseDuration(ttl, 'ttl', TTL_BOUNDS) } : {}),
      ...(str(args, 'label') !== undefined ? { label: str(args, 'label') } : {}),
      ...(str(args, 'subject') !== undefined ? { subject: str(args, 'subject') } : {}),
    };
    const { token } = await adminTokenOf(str(args, 'token'), dataDirOf(str(args, 'data-dir'), io), io);
    const minted = await api<{ token: string; identifier: string }>({ url: serverUrlOf(str(args, 'url'), io), token }, 'POST', '/v1/tokens', body);
    if (bool(args, 'json')) io.out(pretty(minted));
    else {
      io.out(minted.token);
      io.err(`minted ${minted.identifier}`);
    }
  },
};
