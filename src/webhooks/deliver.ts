/**
 * One webhook delivery attempt: the body in the endpoint's format, signed per the Standard
 * Webhooks specification (https://www.standardwebhooks.com: `webhook-id` stable across retries,
 * `webhook-timestamp` of this attempt, `webhook-signature` `v1,<HMAC-SHA256>`), POSTed with a
 * timeout, no redirects followed and the answer's body discarded unread, so a slow or hostile
 * receiver costs at most the timeout and never memory.
 */
import { TesseraError } from '../errors.js';
import type { ClaimedDelivery, WebhookAttemptInput, WebhookPayload } from '../storage/index.js';
import { loadOptionalPackage } from '../util/optional-package.js';

/** The signer of the `standardwebhooks` package (an optional peer, loaded on first use). */
export interface WebhookSigner {
  sign(msgId: string, timestamp: Date, payload: string): string;
}

type SignerFactory = (secret: Uint8Array) => WebhookSigner;

let signerFactory: Promise<SignerFactory> | undefined;

/** Load `standardwebhooks` (once); ERR_CONFIG naming the package when it is not installed. */
export function loadSigner(): Promise<SignerFactory> {
  signerFactory ??= loadOptionalPackage('standardwebhooks', 'webhook notifications', () => import('standardwebhooks')).then((mod) => {
    const { Webhook } = mod as unknown as { Webhook: new (secret: Uint8Array, options: { format: 'raw' }) => WebhookSigner };
    return (secret: Uint8Array) => new Webhook(secret, { format: 'raw' });
  });
  signerFactory.catch(() => (signerFactory = undefined));
  return signerFactory;
}

/** Slack's mrkdwn needs &, < and > escaped in text (links are `<url|label>`). */
const slackEscape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const field = (o: unknown, key: string): unknown => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined);
const text = (o: unknown, key: string): string | undefined => {
  const v = field(o, key);
  return typeof v === 'string' ? v : undefined;
};

/** The one-line Slack message for an event, with the approval link. */
export function slackText(payload: WebhookPayload): string {
  const data = payload.data;
  const type = text(payload, 'type') ?? 'event';
  if (type === 'webhook.test') return 'Tessera webhook test: this endpoint receives approval notifications.';
  const what = slackEscape(text(data, 'what') ?? '');
  const who = slackEscape(text(data, 'who') ?? '');
  const url = text(data, 'approvalUrl') ?? '';
  const link = `<${slackEscape(url)}|${slackEscape(text(data, 'id') ?? 'request')}>`;
  const by = slackEscape(text(field(data, 'decision'), 'by') ?? 'someone');
  const requester = field(data, 'requester');
  const label = text(requester, 'label');
  const asker = field(requester, 'verified') === true ? `${slackEscape(label ?? text(requester, 'subject') ?? 'a verified token')} (verified)` : `${slackEscape(label ?? 'a requester')} (unverified)`;
  const reason = text(data, 'reason');
  switch (type) {
    case 'request.created':
      return `Approval needed from ${who}: ${what}\nAsked by ${asker}${reason !== undefined ? `: "${slackEscape(reason)}"` : ''}\nReview it: ${link}`;
    case 'request.approved':
      return `Approved by ${by}: ${what} (${link})`;
    case 'request.denied': {
      const why = text(field(data, 'decision'), 'reason');
      return `Denied by ${by}: ${what}${why !== undefined ? ` (${slackEscape(why)})` : ''} (${link})`;
    }
    case 'request.withdrawn':
      return `Approval withdrawn by ${by}: ${what} (${link})`;
    case 'request.expired':
      return `Expired without a decision: ${what} (${link})`;
    default:
      return `${slackEscape(type)}: ${what} (${link})`;
  }
}

/** The request body an endpoint of `format` receives for `payload`. */
export function renderBody(format: 'standard' | 'slack', payload: WebhookPayload): string {
  return JSON.stringify(format === 'slack' ? { text: slackText(payload) } : payload);
}

export interface SendOptions {
  readonly timeoutMs: number;
  /** Aborts the attempt (the worker stopping). */
  readonly signal: AbortSignal;
  readonly now: () => Date;
  readonly sign: SignerFactory;
}

/** The outcome of one attempt; `aborted` when the worker stopped it (not an attempt to record). */
export type SendResult = (WebhookAttemptInput & { readonly aborted: false }) | { readonly aborted: true };

/** POST one delivery. Never throws: every failure is an attempt result. */
export async function send(delivery: ClaimedDelivery, options: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const elapsed = (): number => performance.now() - started;
  const failed = (error: string, statusCode: number | null = null): SendResult => ({ aborted: false, ok: false, statusCode, latencyMs: elapsed(), error });
  const { endpoint } = delivery;
  if (!/^https?:\/\//i.test(endpoint.url)) return failed('not an http(s) URL');
  const body = renderBody(endpoint.format, delivery.payload);
  const timestamp = options.now();
  let signature: string;
  try {
    signature = options.sign(endpoint.secret).sign(delivery.eventId, timestamp, body);
  } catch {
    return failed('cannot sign');
  }
  const timeout = AbortSignal.timeout(options.timeoutMs);
  try {
    const res = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Tessera-Webhooks/1',
        'webhook-id': delivery.eventId,
        'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.any([options.signal, timeout]),
    });
    // The answer's body is never read: a huge or endless one costs nothing.
    await res.body?.cancel().catch(() => undefined);
    if (res.status >= 200 && res.status < 300) return { aborted: false, ok: true, statusCode: res.status, latencyMs: elapsed(), error: null };
    if (res.status >= 300 && res.status < 400) return failed(`redirect (HTTP ${res.status}) not followed`, res.status);
    return failed(`HTTP ${res.status}`, res.status);
  } catch (e) {
    if (options.signal.aborted) return { aborted: true };
    if (timeout.aborted) return failed(`no answer within ${options.timeoutMs} ms`);
    return failed(connectionError(e));
  }
}

/** A short, secret-free description of a network failure (the code, never the URL or body). */
function connectionError(e: unknown): string {
  const cause = e instanceof Error ? (e.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  // fetch refuses the ports of other protocols (the Fetch standard's "bad port" list) itself.
  if (cause?.message === 'bad port') return 'connection refused by fetch: a port it never connects to';
  const code = typeof cause?.code === 'string' && /^[A-Z_]{2,40}$/.test(cause.code) ? cause.code : undefined;
  return code !== undefined ? `connection failed (${code})` : 'connection failed';
}

/** ERR_INVALID_ARGUMENT unless `url` is an absolute http(s) URL with a host and no credentials. */
export function checkWebhookUrl(url: unknown): string {
  const fail = (why: string): TesseraError => new TesseraError('ERR_INVALID_ARGUMENT', `the webhook URL ${why}`, { field: 'url' });
  if (typeof url !== 'string' || url.length === 0) throw fail('is missing');
  if (url.length > 2048) throw fail('is longer than 2048 characters');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail('is not a URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw fail('must start with http:// or https://');
  if (parsed.hostname === '') throw fail('has no host');
  if (parsed.username !== '' || parsed.password !== '') throw fail('must not carry a user name or password');
  return parsed.href;
}
