/** `tessera webhooks add|list|remove|test`: where approval notifications go (server). */
import { api } from '../client.js';
import { SERVER_HELP, SERVER_OPTIONS, bool, str, type Command } from '../command.js';
import { UsageError, adminTokenOf, dataDirOf, pretty, serverUrlOf, table, when } from '../io.js';

interface AttemptJson {
  readonly eventId: string;
  readonly type: string;
  readonly at: string;
  readonly ok: boolean;
  readonly statusCode: number | null;
  readonly latencyMs: number;
  readonly error: string | null;
}

interface WebhookJson {
  readonly id: string;
  readonly url: string;
  readonly addressee: string | null;
  readonly format: 'standard' | 'slack';
  readonly createdAt: string;
  readonly deliveries: { readonly pending: number; readonly delivered: number; readonly failed: number };
  readonly lastAttempt: AttemptJson | null;
}

/** How long `webhooks test` waits for the test event's first attempt. */
const TEST_WAIT_MS = 15_000;

const forWhom = (addressee: string | null): string =>
  addressee === null ? 'every request' : addressee.startsWith('group:') ? `group ${addressee.slice(6)}` : `user ${addressee}`;

const attemptText = (a: AttemptJson): string =>
  a.ok ? `delivered (HTTP ${a.statusCode}) in ${a.latencyMs} ms` : `failed: ${a.error ?? 'error'} after ${a.latencyMs} ms`;

const ENDPOINT_ID = /^wh_[A-Za-z0-9_-]{16}$/;

function endpointId(args: { readonly positionals: readonly string[] }, action: string): string {
  const id = args.positionals[1];
  if (id === undefined) throw new UsageError(`webhooks ${action} needs the endpoint id (see "tessera webhooks list")`);
  if (!ENDPOINT_ID.test(id)) throw new UsageError(`"${id.slice(0, 40)}" is not a webhook endpoint id (wh_…)`);
  return id;
}

export const webhooks: Command = {
  name: 'webhooks',
  summary: 'send approval requests to Slack or any webhook receiver (server)',
  help: `Usage: tessera webhooks add <url> [--group <name> | --user <name>] [--format slack] [--json]
       tessera webhooks list|ls [--json]
       tessera webhooks remove|rm <id>
       tessera webhooks test <id>

Tessera POSTs an event to each endpoint when a request addressed to it is created, approved,
denied, withdrawn or expires: the approval URL, the condition, who asks (verified or not) and
why. Events are signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature
headers); undelivered events are retried with backoff, across server restarts, in order per request.

add     Subscribes <url> (http or https) to requests for one group, one user, or all. Prints
        the signing secret (whsec_…) once: give it to the receiver to verify signatures.
        --format slack sends Slack's { "text": … } with the approval link: use a Slack
        incoming-webhook URL.
list    Shows the endpoints and their deliveries (never a secret).
remove  Deletes an endpoint and its undelivered events.
test    Sends a test event and waits for the receiver's answer.

Options:
  --group <name>      only requests addressed to this group
  --user <name>       only requests addressed to this user
  --format <format>   standard (default) or slack
  --json              print JSON
  -h, --help          show this help

Examples:
  tessera webhooks add https://hooks.slack.com/services/T000/B000/XXXX --group ops --format slack
  tessera webhooks add https://bots.example.com/tessera
  tessera webhooks test wh_4Jt0c1n2dZ8kq3xy

${SERVER_HELP}`,
  options: { ...SERVER_OPTIONS, group: { type: 'string' }, user: { type: 'string' }, format: { type: 'string' }, json: { type: 'boolean' } },
  positionals: { min: 1, max: 2 },
  actions: ['add', 'list', 'ls', 'remove', 'rm', 'test'],
  async run(args, io) {
    const action = args.positionals[0];
    const known = ['add', 'list', 'ls', 'remove', 'rm', 'test'];
    if (action === undefined || !known.includes(action)) throw new UsageError(`unknown webhooks action "${String(action).slice(0, 20)}": use add, list, remove or test`);
    const group = str(args, 'group');
    const user = str(args, 'user');
    const format = str(args, 'format');
    if (action !== 'add' && (group !== undefined || user !== undefined || format !== undefined)) throw new UsageError('--group, --user and --format go with "webhooks add"');
    if (group !== undefined && user !== undefined) throw new UsageError('give --group or --user, not both');
    if (format !== undefined && format !== 'standard' && format !== 'slack') throw new UsageError('--format is standard or slack');
    if ((action === 'list' || action === 'ls') && args.positionals.length > 1) throw new UsageError('webhooks list takes no argument');
    const server = { url: serverUrlOf(str(args, 'url'), io), token: (await adminTokenOf(str(args, 'token'), dataDirOf(str(args, 'data-dir'), io), io)).token };
    const json = bool(args, 'json');

    switch (action) {
      case 'add': {
        const url = args.positionals[1];
        if (url === undefined) throw new UsageError('webhooks add needs the receiver URL');
        const added = await api<{ id: string; url: string; addressee: string | null; format: string; secret: string }>(server, 'POST', '/v1/webhooks', {
          url,
          ...(group !== undefined ? { group } : {}),
          ...(user !== undefined ? { user } : {}),
          ...(format !== undefined ? { format } : {}),
        });
        if (json) {
          io.out(pretty(added));
          return;
        }
        io.out(`webhook ${added.id} added: ${forWhom(added.addressee)} → ${added.url} (${added.format})`);
        io.out(`signing secret (shown only now; the receiver verifies webhook-signature with it):\n${added.secret}`);
        return;
      }
      case 'list':
      case 'ls': {
        const answer = await api<{ webhooks: WebhookJson[] }>(server, 'GET', '/v1/webhooks');
        if (json) {
          io.out(pretty(answer));
          return;
        }
        if (answer.webhooks.length === 0) {
          io.out('no webhooks: add one with "tessera webhooks add <url>"');
          return;
        }
        const now = new Date();
        io.out(
          table(
            ['ID', 'URL', 'FOR', 'FORMAT', 'DELIVERED', 'PENDING', 'FAILED', 'LAST ATTEMPT'],
            answer.webhooks.map((w) => [
              w.id,
              w.url,
              forWhom(w.addressee),
              w.format,
              String(w.deliveries.delivered),
              String(w.deliveries.pending),
              String(w.deliveries.failed),
              w.lastAttempt === null ? '-' : `${when(w.lastAttempt.at, now)}: ${attemptText(w.lastAttempt)}`,
            ]),
          ),
        );
        return;
      }
      case 'remove':
      case 'rm': {
        const id = endpointId(args, 'remove');
        await api(server, 'DELETE', `/v1/webhooks/${id}`);
        io.out(`webhook ${id} removed`);
        return;
      }
      default: {
        const id = endpointId(args, 'test');
        const { eventId } = await api<{ eventId: string }>(server, 'POST', `/v1/webhooks/${id}/test`, {});
        const deadline = Date.now() + TEST_WAIT_MS;
        for (;;) {
          const { attempts } = await api<{ attempts: AttemptJson[] }>(server, 'GET', `/v1/webhooks/${id}/attempts?limit=20`);
          const attempt = attempts.find((a) => a.eventId === eventId);
          if (attempt !== undefined) {
            if (json) io.out(pretty(attempt));
            else io.out(`test event ${eventId}: ${attemptText(attempt)}${attempt.ok ? '' : ' (retried with backoff)'}`);
            return attempt.ok ? 0 : 1;
          }
          if (Date.now() > deadline) {
            io.err(`test event ${eventId} queued; no attempt within ${TEST_WAIT_MS / 1000} s (see "tessera webhooks list")`);
            return 1;
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
  },
};
