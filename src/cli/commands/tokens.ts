/** `tessera tokens list` (alias `ls`): the tokens minted on the server, filtered, newest first. */
import type { TokenListing as TokenRow } from '../../issuer/listing.js';
import { api } from '../client.js';
import { SERVER_HELP, SERVER_OPTIONS, bool, str, type Command } from '../command.js';
import { UsageError, adminTokenOf, dataDirOf, pretty, serverUrlOf, table, timeOption, when } from '../io.js';

export const tokens: Command = {
  name: 'tokens',
  summary: 'list the tokens minted on the server (server)',
  help: `Usage: tessera tokens list|ls [--state active|revoked|expired] [--label <text>] [--subject <text>]
                          [--key <key id>] [--since <time>] [--until <time>] [--limit <n>] [--all] [--json]

Lists minted tokens, newest first: identifier, label, subject, minted, expires, state and when
it was revoked. Never shows a token itself (a token is shown once, when it is minted).
Times are RFC 3339 (2026-12-01T00:00:00Z) or a duration ago (2h, 7d).

Options:
  --state <state>     active, revoked or expired
  --label <text>      only tokens with this label
  --subject <text>    only tokens with this subject
  --key <id>          only tokens minted under this root key
  --since <time>      minted at or after
  --until <time>      minted before
  --limit <n>         at most n tokens (default 50; 1 to 1000)
  --all               every matching token, page after page
  --json              print { tokens, nextCursor? } as JSON
  -h, --help          show this help

${SERVER_HELP}`,
  options: {
    ...SERVER_OPTIONS,
    state: { type: 'string' },
    label: { type: 'string' },
    subject: { type: 'string' },
    key: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: { min: 1, max: 1 },
  actions: ['list', 'ls'],
  async run(args, io) {
    const action = args.positionals[0];
    if (action !== 'list' && action !== 'ls') throw new UsageError(`unknown tokens action "${String(action).slice(0, 20)}": use list (or ls)`);
    const query = new URLSearchParams();
    for (const [option, param] of [['state', 'state'], ['label', 'label'], ['subject', 'subject'], ['key', 'keyId'], ['limit', 'limit']] as const) {
      const v = str(args, option);
      if (v !== undefined) query.set(param, v);
    }
    for (const option of ['since', 'until'] as const) {
      const v = str(args, option);
      if (v !== undefined) query.set(option, timeOption(v, option));
    }
    if (!query.has('limit')) query.set('limit', '50');
    const server = { url: serverUrlOf(str(args, 'url'), io), token: (await adminTokenOf(str(args, 'token'), dataDirOf(str(args, 'data-dir'), io), io)).token };
    const rows: TokenRow[] = [];
    let nextCursor: string | undefined;
    do {
      if (nextCursor !== undefined) query.set('cursor', nextCursor);
      const page = await api<{ tokens: TokenRow[]; nextCursor?: string }>(server, 'GET', `/v1/tokens?${query}`);
      rows.push(...page.tokens);
      nextCursor = page.nextCursor;
    } while (bool(args, 'all') && nextCursor !== undefined);
    if (bool(args, 'json')) {
      io.out(pretty({ tokens: rows, ...(nextCursor !== undefined ? { nextCursor } : {}) }));
      return;
    }
    if (rows.length === 0) {
      io.out('no tokens match');
      return;
    }
    const now = new Date();
    io.out(
      table(
        ['IDENTIFIER', 'LABEL', 'SUBJECT', 'MINTED', 'EXPIRES', 'STATE', 'REVOKED'],
        rows.map((t) => [t.identifier, t.label ?? '-', t.subject ?? '-', when(t.createdAt, now), t.expiresAt === null ? 'never' : when(t.expiresAt, now), t.state, t.revokedAt === null ? '-' : when(t.revokedAt, now)]),
      ),
    );
    if (nextCursor !== undefined) io.out(`(more: --all, or narrow with --state, --label, --since)`);
  },
};
