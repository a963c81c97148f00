/** `tessera audit`: read the audit log, filtered, or follow it live (`--follow`). */
import { isIdentifier } from '../../issuer/identifier.js';
import type { AuditListing as AuditEvent } from '../../issuer/listing.js';
import { api } from '../client.js';
import { SERVER_HELP, SERVER_OPTIONS, bool, str, type Command } from '../command.js';
import { adminTokenOf, dataDirOf, serverUrlOf, timeOption, when } from '../io.js';
import { inspectToken } from './inspect.js';

/** What --about names: a token stands for its identifier; identifiers, key and request ids as given. */
function subjectOf(value: string): string {
  if (isIdentifier(value)) return value;
  try {
    return inspectToken(value).identifier;
  } catch {
    return value;
  }
}

/** How long one follow request waits on the server for a new event. */
const FOLLOW_WAIT = '25s';

const line = (e: AuditEvent, now: Date): string =>
  [when(e.at, now), e.action.padEnd(12), `${e.actor} via ${e.channel}`, e.subject ?? '-', Object.keys(e.details).length > 0 ? JSON.stringify(e.details) : '']
    .join('  ')
    .trimEnd();

export const audit: Command = {
  name: 'audit',
  summary: 'read or follow the audit log (server)',
  help: `Usage: tessera audit [--action <kind>] [--about <token|identifier>] [--actor <who>] [--channel <channel>]
                     [--since <time>] [--until <time>] [--limit <n>] [--follow] [--json]

Prints audit events (who did what, to what, through which channel), oldest of the page first.
With --follow it keeps printing new events as they happen, on any server of this database,
until Ctrl-C. Times are RFC 3339 (2026-12-01T00:00:00Z) or a duration ago (2h, 7d).

Options:
  --action <kind>       mint, revoke, key-create, key-rotate, key-retire, discharge, approve, deny, login…
  --about <t>           events about this token (a token or its identifier) or key or request id
  --actor <who>         admin:<token id>, an approver's name, requester, issuer…
  --channel <channel>   http-api, cli-local, approval-page, discharge-api, approvals-api or system
  --since <time>        at or after
  --until <time>        before
  --limit <n>           the last n events (default 20; 1 to 1000)
  --follow              keep printing new events (the server must allow audit:read)
  --json                one JSON object per event, one per line
  -h, --help            show this help

${SERVER_HELP}`,
  options: {
    ...SERVER_OPTIONS,
    action: { type: 'string' },
    about: { type: 'string' },
    actor: { type: 'string' },
    channel: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
    follow: { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run(args, io) {
    const filters = new URLSearchParams();
    for (const option of ['action', 'actor', 'channel'] as const) {
      const v = str(args, option);
      if (v !== undefined) filters.set(option, v);
    }
    const about = str(args, 'about');
    if (about !== undefined) filters.set('token', subjectOf(about));
    for (const option of ['since', 'until'] as const) {
      const v = str(args, option);
      if (v !== undefined) filters.set(option, timeOption(v, option));
    }
    const server = { url: serverUrlOf(str(args, 'url'), io), token: (await adminTokenOf(str(args, 'token'), dataDirOf(str(args, 'data-dir'), io), io)).token };
    const print = (events: readonly AuditEvent[]): void => {
      const now = new Date();
      for (const e of events) io.out(bool(args, 'json') ? JSON.stringify(e) : line(e, now));
    };
    const first = new URLSearchParams(filters);
    first.set('limit', str(args, 'limit') ?? '20');
    const { events } = await api<{ events: AuditEvent[] }>(server, 'GET', `/v1/audit?${first}`);
    const recent = [...events].reverse();
    print(recent);
    if (!bool(args, 'follow')) return;

    let last = recent.at(-1)?.id;
    if (last === undefined) {
      // Nothing matched yet: follow from the newest event of any kind.
      const newest = await api<{ events: AuditEvent[] }>(server, 'GET', '/v1/audit?limit=1');
      last = newest.events[0]?.id ?? 0;
    }
    const stop = new AbortController();
    void io.stopSignal().then(() => stop.abort());
    while (!stop.signal.aborted) {
      const next = new URLSearchParams(filters);
      next.set('after', String(last));
      next.set('wait', FOLLOW_WAIT);
      next.set('limit', '1000');
      let page: { events: AuditEvent[] };
      try {
        page = await api<{ events: AuditEvent[] }>({ ...server, signal: stop.signal, timeoutMs: 60_000 }, 'GET', `/v1/audit?${next}`);
      } catch (e) {
        if (stop.signal.aborted) break;
        throw e;
      }
      print(page.events);
      last = page.events.at(-1)?.id ?? last;
    }
  },
};
