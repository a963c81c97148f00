/**
 * `protectMcp`: an MCP server (official TypeScript SDK) behind Tessera, in one call.
 *
 *   app.route('/', protectMcp({ verifier, server: () => buildMcpServer(), tools: { … } }))
 *
 * Transport: the SDK's own Web-standard Streamable HTTP transport, which takes a `Request` and
 * returns a `Response`, so hono serves it directly (no @hono/mcp, no Node req/res shim). It runs
 * stateless (a fresh server and transport per HTTP request, as the SDK recommends for servers
 * that do not push) with JSON responses, so this layer can merge its own refusals into a batch
 * and filter list results before they leave.
 *
 * Every JSON-RPC message is judged before the SDK sees it; a message that is refused never
 * reaches it, so no tool runs:
 *   tools/call        verify with `tool` = the name, `operation` = the tool's kind (default
 *                     `call`) and whatever the tool's `context(args)` maps from its arguments
 *   resources/read    verify with `operation` read and `resource` from the URI
 *   prompts/get       verify with `operation` prompt and `resource` /prompts/<name>
 *   tools/list etc.   answered, then filtered to what the token could call (judged without
 *                     arguments: a caveat on a field only arguments supply does not hide it)
 *   initialize, ping, notifications, logging/setLevel: a valid token, no caveat context
 *   anything else     -32601, never forwarded
 * No token, or a token that fails as a token (signature, key, revocation): HTTP 401 with
 * `WWW-Authenticate: Bearer resource_metadata="…"` and the RFC 9728 document at its well-known
 * path. A caveat refusal is a JSON-RPC error naming the caveat and the reason. A tool declared
 * with `approval` is refused with a discharge-required error carrying a challenge (approval.ts)
 * until the call comes back with it discharged, in the `Tessera-Approval` header.
 */
import { Hono, type Context } from 'hono';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { TesseraError, invalidArgument, isTesseraError, type ErrorCode } from '../errors.js';
import { httpStatus } from '../http/status.js';
import { clientIpReader, parseAuthorization, quote, type ClientIpSource, type HeaderBounds } from '../hono/index.js';
import { readBounded } from '../http/body.js';
import { onError } from '../http/errors.js';
import { DEFAULT_LIMITS } from '../macaroon/limits.js';
import { Verifier, type Explanation } from '../verifier/index.js';
import type { RequestContext } from '../../caveats/index.js';
import { Approvals, approvalPolicy, callHash, type ApprovalOptions, type ApprovalPolicy } from './approval.js';
import { APPROVALS_MODE_HEADER, URL_ELICITATION_REQUIRED, UrlElicitations, declaresUrlElicitation } from './elicitation.js';

/** JSON-RPC error codes this layer answers with (the server-defined range, plus the standard ones). */
export const MCP_ERRORS = Object.freeze({
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  /** No token, or the token itself is bad (the HTTP status is 401). */
  unauthenticated: -32030,
  /** A caveat refused this message; `data` names the caveat and the reason. */
  forbidden: -32031,
  /** A person must approve this call: `data.challenge` is the macaroon to discharge. */
  approvalRequired: -32032,
  /**
   * A person must approve this call at `data.elicitations[0].url` (URL-mode elicitation, for
   * clients that declared it), then the client retries the call.
   */
  urlElicitationRequired: URL_ELICITATION_REQUIRED,
});

/** The header a retried call carries its discharged challenges in: `<challenge>,<discharge>…`, groups separated by spaces. */
export const APPROVAL_HEADER = 'tessera-approval';

export type ToolArguments = Readonly<Record<string, unknown>>;

/** How one tool's calls are described to the verifier. */
export interface ToolPolicy {
  /** The `operation` for `ops` caveats; default `call`. */
  readonly operation?: string;
  /**
   * More request context from the call's arguments, e.g. `argumentResource('path')`. Throw a
   * TesseraError (ERR_INVALID_ARGUMENT) for arguments that do not map: the call is refused with
   * -32602 and never runs.
   */
  readonly context?: (args: ToolArguments) => RequestContext;
  /** A person must approve each call: `'group:ops'`, a user name, or an ApprovalPolicy. */
  readonly approval?: string | ApprovalPolicy;
}

export interface ProtectMcpOptions {
  /** A fresh, connected-to-nothing MCP server per HTTP request (stateless). */
  readonly server: () => McpServer | Server;
  readonly verifier: Verifier;
  /** Where the endpoint is mounted; default `/mcp`. */
  readonly path?: string;
  /** The endpoint's absolute URL (the RFC 9728 `resource`); default: the request's origin + path. */
  readonly resourceUrl?: string;
  readonly tools?: Readonly<Record<string, ToolPolicy>>;
  /** Request context for a resource URI; default `resourceContext`. */
  readonly resources?: (uri: string) => RequestContext;
  /** Request context for a prompt; default `{ operation: 'prompt', resource: '/prompts/<name>' }`. */
  readonly prompts?: (name: string) => RequestContext;
  /** Needed when a tool declares `approval`. */
  readonly approvals?: ApprovalOptions;
  /** Listed in the metadata document, when you run OAuth authorization servers that issue these tokens. */
  readonly authorizationServers?: readonly string[];
  readonly resourceName?: string;
  /** Largest request body, bytes; default 1 MiB. */
  readonly maxBodyBytes?: number;
  /** Most messages in a batch; default 32. */
  readonly maxBatch?: number;
  readonly clientIp?: ClientIpSource;
  /**
   * Which request field an application caveat reads, so that listing (judged without
   * arguments) can tell "not decidable yet" from "refused". Standard caveats are known.
   */
  readonly caveatFields?: Readonly<Record<string, string>>;
}

/** The request field each standard caveat judges; caveats absent here are decided by what the token alone says. */
const CAVEAT_FIELDS: Readonly<Record<string, string>> = {
  ops: 'operation',
  resource: 'resource',
  method: 'method',
  aud: 'audience',
  'client-ip': 'ip',
  tool: 'tool',
};

/** A string argument, or ERR_INVALID_ARGUMENT naming it. */
export function stringArgument(args: ToolArguments, name: string): string {
  const v = args[name];
  if (typeof v !== 'string' || v === '') throw new TesseraError('ERR_INVALID_ARGUMENT', `argument ${name} must be a non-empty string`, { field: `arguments.${name}` });
  return v;
}

/** A tool context mapping `resource` from a path argument. */
export const argumentResource = (name: string) => (args: ToolArguments): RequestContext => ({ resource: stringArgument(args, name) });

/**
 * The default resource context: `file:///docs/a.md` is `/docs/a.md`; any other URI
 * `scheme://host/path` is `/scheme/host/path`.
 */
export function resourceContext(uri: string): RequestContext {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new TesseraError('ERR_INVALID_ARGUMENT', 'uri is not an absolute URI', { field: 'uri' });
  }
  const scheme = url.protocol.slice(0, -1);
  const resource = scheme === 'file' ? url.pathname : `/${scheme}${url.host === '' ? '' : `/${url.host}`}${url.pathname.startsWith('/') ? url.pathname : `/${url.pathname}`}`;
  return { operation: 'read', resource: resource.replace(/\/+$/, '') || '/' };
}

type Id = string | number;
type Message = Record<string, unknown>;
type Reply = { readonly jsonrpc: '2.0'; readonly id: Id | null; readonly error: { readonly code: number; readonly message: string; readonly data?: Record<string, unknown> } };
type ListKind = 'tools' | 'resources' | 'resourceTemplates' | 'prompts';

const BASE_METHODS = new Set(['initialize', 'ping', 'logging/setLevel']);
/** Methods whose every message is verified with its own context (so also as a token). */
const VERIFIED_METHODS = new Set(['tools/call', 'resources/read', 'resources/subscribe', 'resources/unsubscribe', 'prompts/get']);

/** A failure of the token itself, as the 401 answers it (a token that does not decode is just invalid). */
function tokenError(code: ErrorCode, message: string): TesseraError {
  if (code === 'ERR_INVALID_ARGUMENT') throw new TesseraError('ERR_CONFIG', 'the verifier is misconfigured'); // a 500: not the client's fault
  return new TesseraError(code === 'ERR_MALFORMED' || code === 'ERR_LIMIT' ? 'ERR_UNAUTHENTICATED' : code, message);
}

/**
 * The 401 for a verification failure that is about the token rather than this call, or
 * undefined. An expired (or not yet valid) token counts: MCP clients answer 401 by fetching a
 * new token, which is what it needs.
 */
function asTokenFailure(e: TesseraError): TesseraError | undefined {
  if (httpStatus(e) !== 403) return tokenError(e.code, e.message);
  if (/^time-(before|after) /.test(String(e.details.caveat))) return new TesseraError('ERR_UNAUTHENTICATED', e.message, e.details);
  return undefined;
}
const LISTS: ReadonlyMap<string, ListKind> = new Map([
  ['tools/list', 'tools'],
  ['resources/list', 'resources'],
  ['resources/templates/list', 'resourceTemplates'],
  ['prompts/list', 'prompts'],
]);

const reply = (id: Id | null, code: number, message: string, data?: Record<string, unknown>): Reply =>
  ({ jsonrpc: '2.0', id, error: { code, message, ...(data !== undefined ? { data } : {}) } });

const errorData = (e: TesseraError): Record<string, unknown> => ({ code: e.code, ...e.details });

/** The JSON-RPC code for a refusal with this Tessera error code. */
function rpcCode(code: ErrorCode): number {
  switch (code) {
    case 'ERR_INVALID_ARGUMENT':
    case 'ERR_LIMIT':
    case 'ERR_MALFORMED':
      return MCP_ERRORS.invalidParams;
    case 'ERR_SIGNATURE':
    case 'ERR_KEY_UNKNOWN':
    case 'ERR_KEY_RETIRED':
    case 'ERR_REVOKED':
    case 'ERR_UNAUTHENTICATED':
      return MCP_ERRORS.unauthenticated;
    default:
      return MCP_ERRORS.forbidden;
  }
}

const isObject = (v: unknown): v is Message => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is Id => typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v));
const shown = (s: string): string => JSON.stringify(s.slice(0, 64));

const positive = (value: number | undefined, fallback: number, field: string): number => {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw invalidArgument(`${field} must be a positive integer`, { field });
  return value;
};

/** Put `server` behind Tessera: a hono app serving the MCP endpoint and its RFC 9728 metadata. */
export function protectMcp(options: ProtectMcpOptions): Hono {
  if (typeof options !== 'object' || options === null) throw invalidArgument('protectMcp needs an options object');
  const { verifier } = options;
  if (!(verifier instanceof Verifier)) throw invalidArgument('protectMcp needs a Verifier', { field: 'verifier' });
  if (typeof options.server !== 'function') throw invalidArgument('server must be a function returning a fresh MCP server', { field: 'server' });
  const path = options.path ?? '/mcp';
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(path) || path.endsWith('/') && path !== '/') throw invalidArgument('path must be an absolute path without a trailing slash', { field: 'path' });
  const maxBody = positive(options.maxBodyBytes, 1024 * 1024, 'maxBodyBytes');
  const maxBatch = positive(options.maxBatch, 32, 'maxBatch');
  const bounds: HeaderBounds = { maxHeaderLength: 16_384, maxDischarges: DEFAULT_LIMITS.maxDischarges };
  const readIp = clientIpReader(options.clientIp);
  const fields: ReadonlyMap<string, string> = new Map(Object.entries({ ...CAVEAT_FIELDS, ...options.caveatFields }));
  const resourceOf = options.resources ?? resourceContext;
  const promptOf = options.prompts ?? ((name: string): RequestContext => ({ operation: 'prompt', resource: `/prompts/${encodeURIComponent(name)}` }));

  const tools = new Map<string, ToolPolicy & { readonly approvalPolicy?: ApprovalPolicy }>();
  for (const [name, policy] of Object.entries(options.tools ?? {})) {
    if (policy.context !== undefined && typeof policy.context !== 'function') throw invalidArgument(`tool ${name}: context must be a function`, { field: 'tools' });
    tools.set(name, { ...policy, ...(policy.approval !== undefined ? { approvalPolicy: approvalPolicy(policy.approval, name) } : {}) });
  }
  const needsApproval = [...tools.values()].some((t) => t.approvalPolicy !== undefined);
  if (needsApproval && options.approvals === undefined) throw invalidArgument('a tool needs approval: pass approvals { discharger }', { field: 'approvals' });
  const approvals = options.approvals !== undefined ? new Approvals(options.approvals) : undefined;
  const elicitations = approvals !== undefined && options.approvals?.urlElicitation !== false ? new UrlElicitations({ ttlMs: approvals.ttlMs }) : undefined;

  const resourceUrl = (c: Context): string => options.resourceUrl ?? `${new URL(c.req.url).origin}${path}`;
  const metadataPath = `/.well-known/oauth-protected-resource${path === '/' ? '' : path}`;
  const metadataUrl = (c: Context): string => `${new URL(resourceUrl(c)).origin}${metadataPath}`;

  /** A whole-request refusal: 401 (or 403) with the Bearer challenge MCP clients read. */
  const refuse = (c: Context, e: TesseraError, presented: boolean): Response => {
    const status = httpStatus(e) === 403 ? 403 : httpStatus(e) === 400 && !presented ? 400 : 401;
    const error = !presented ? undefined : status === 403 ? 'insufficient_scope' : httpStatus(e) === 400 && e.code !== 'ERR_MALFORMED' && e.code !== 'ERR_LIMIT' ? 'invalid_request' : 'invalid_token';
    const params = [`resource_metadata=${quote(metadataUrl(c))}`];
    if (error !== undefined) params.push(`error=${quote(error)}`, `error_description=${quote(e.message)}`);
    return new Response(JSON.stringify(reply(null, status === 403 ? MCP_ERRORS.forbidden : MCP_ERRORS.unauthenticated, e.message, errorData(e))), {
      status,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'www-authenticate': `Bearer ${params.join(', ')}` },
    });
  };

  /** A request-level JSON-RPC error that is not about credentials (parse errors, sizes…). */
  const badRequest = (status: number, code: number, message: string, data?: Record<string, unknown>): Response =>
    new Response(JSON.stringify(reply(null, code, message, data)), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });

  /** The first caveat failure that counts: with `optimistic`, one on a field the context lacks is undecided. */
  const firstFailure = (explained: Explanation, ctx: RequestContext, optimistic: boolean): TesseraError | undefined => {
    for (const r of explained.caveats) {
      if (r.ok) continue;
      const name = r.condition.split(' ', 1)[0] as string;
      const field = fields.get(name);
      if (optimistic && r.code === 'ERR_CAVEAT_FAILED' && field !== undefined && ctx[field] === undefined) continue;
      const code = r.code ?? 'ERR_CAVEAT_FAILED';
      return new TesseraError(code, `refused by caveat "${r.condition}": ${r.reason ?? 'not satisfied'}`, { caveat: r.condition, reason: r.reason ?? 'not satisfied' });
    }
    return undefined;
  };

  const app = new Hono();
  app.onError(onError);

  app.get(metadataPath, (c) => {
    const document = {
      resource: resourceUrl(c),
      bearer_methods_supported: ['header'],
      ...(options.authorizationServers !== undefined ? { authorization_servers: [...options.authorizationServers] } : {}),
      ...(options.resourceName !== undefined ? { resource_name: options.resourceName } : {}),
    };
    return c.json(document, 200, { 'cache-control': 'max-age=300' });
  });

  app.on(['GET', 'DELETE'], path, (c) => {
    if (c.req.header('authorization') === undefined) return refuse(c, new TesseraError('ERR_UNAUTHENTICATED', 'a Tessera token is required (Authorization: Bearer <token>)'), false);
    // Stateless: no server-initiated stream and no session to end.
    return new Response(JSON.stringify(reply(null, MCP_ERRORS.invalidRequest, 'this MCP server is stateless: only POST is supported')), {
      status: 405,
      headers: { allow: 'POST', 'content-type': 'application/json' },
    });
  });

  app.post(path, async (c) => {
    const header = c.req.header('authorization');
    if (header === undefined) return refuse(c, new TesseraError('ERR_UNAUTHENTICATED', 'a Tessera token is required (Authorization: Bearer <token>)'), false);
    let token: string;
    let discharges: readonly string[];
    try {
      ({ token, discharges } = parseAuthorization(header, bounds));
    } catch (e) {
      if (!isTesseraError(e)) throw e;
      return refuse(c, e, true);
    }

    const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/json') return badRequest(415, MCP_ERRORS.invalidRequest, 'Content-Type must be application/json');
    let body: unknown;
    try {
      body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(await readBounded(c, maxBody)));
    } catch (e) {
      if (isTesseraError(e, 'ERR_LIMIT')) return badRequest(413, MCP_ERRORS.invalidRequest, e.message, errorData(e));
      return badRequest(400, MCP_ERRORS.parse, 'Parse error: the body is not valid JSON');
    }
    const batch = Array.isArray(body);
    const messages: unknown[] = batch ? (body as unknown[]) : [body];
    if (messages.length === 0) return badRequest(400, MCP_ERRORS.invalidRequest, 'Invalid Request: empty batch');
    if (messages.length > maxBatch) return badRequest(400, MCP_ERRORS.invalidRequest, `Invalid Request: more than ${maxBatch} messages in a batch`, { code: 'ERR_LIMIT' });

    const ip = readIp(c);
    const base: RequestContext = { method: c.req.method, ...(ip !== undefined ? { ip } : {}) };
    // The token as a token (chain, key, revocation, every caveat the request can decide), unless
    // every message is verified in full anyway: a lone tools/call costs one verification.
    if (messages.some((m) => !isObject(m) || !('id' in m) || !VERIFIED_METHODS.has(m.method as string))) {
      const explained = await verifier.explain(token, { discharges, context: base });
      if (explained.error !== undefined) return refuse(c, tokenError(explained.error.code, explained.error.message), true);
      const refusedAsToken = firstFailure(explained, base, true);
      if (refusedAsToken !== undefined) return refuse(c, asTokenFailure(refusedAsToken) ?? refusedAsToken, true);
    }
    /** Set when a message's verification failed on the token itself: the request is answered 401. */
    let badToken: TesseraError | undefined;

    const approvalGroups = parseApprovalHeader(c.req.header(APPROVAL_HEADER), bounds);
    const replies = new Map<number, Reply>();
    const forwarded: { readonly index: number; readonly message: Message; readonly list?: ListKind }[] = [];

    /** Verify one message's context; the refusal as a reply, or undefined when allowed. */
    const judge = async (id: Id, ctx: RequestContext): Promise<Reply | undefined> => {
      try {
        await verifier.verify(token, { discharges, context: { ...base, ...ctx } });
        return undefined;
      } catch (e) {
        if (!isTesseraError(e) || httpStatus(e) >= 500) throw e;
        badToken ??= asTokenFailure(e);
        return reply(id, rpcCode(e.code), e.message, errorData(e));
      }
    };

    /** The refusal when no group of discharged challenges approves this call (one use counted), else undefined. */
    const firstApproval = async (groups: readonly { token: string; discharges: readonly string[] }[], name: string, args: Message): Promise<TesseraError | undefined> => {
      let refusal: TesseraError | undefined;
      for (const group of groups) {
        try {
          await (approvals as Approvals).verify(group.token, group.discharges, name, args);
          return undefined;
        } catch (e) {
          if (!isTesseraError(e) || httpStatus(e) >= 500) throw e;
          refusal ??= e;
        }
      }
      return refusal;
    };

    const callTool = async (id: Id, params: Message): Promise<Reply | undefined> => {
      const name = params.name;
      if (typeof name !== 'string' || name === '' || name.length > 128) return reply(id, MCP_ERRORS.invalidParams, 'tools/call needs params.name, a tool name of 1 to 128 characters', { code: 'ERR_INVALID_ARGUMENT', field: 'name' });
      const args = params.arguments ?? {};
      if (!isObject(args)) return reply(id, MCP_ERRORS.invalidParams, 'tools/call params.arguments must be an object', { code: 'ERR_INVALID_ARGUMENT', field: 'arguments' });
      const policy = tools.get(name);
      let ctx: RequestContext = { tool: name, operation: policy?.operation ?? 'call' };
      try {
        if (policy?.context !== undefined) ctx = { ...ctx, ...policy.context(args) };
      } catch (e) {
        const err = isTesseraError(e) && httpStatus(e) < 500 ? e : new TesseraError('ERR_INVALID_ARGUMENT', `the arguments of ${shown(name)} do not map to a request`, { field: 'arguments' });
        return reply(id, MCP_ERRORS.invalidParams, err.message, errorData(err));
      }
      const approval = policy?.approvalPolicy;
      if (approval !== undefined && approvals !== undefined) {
        // The token must allow the call before a person is asked (nothing is counted here).
        const allowed = firstFailure(await verifier.explain(token, { discharges, context: { ...base, ...ctx } }), ctx, false);
        if (allowed !== undefined) return reply(id, MCP_ERRORS.forbidden, allowed.message, errorData(allowed));
        try {
          if (approvalGroups.length > 0) {
            const refusal = await firstApproval(approvalGroups, name, args);
            if (refusal !== undefined) return reply(id, MCP_ERRORS.forbidden, `approval refused: ${refusal.message}`, errorData(refusal));
            return judge(id, ctx);
          }
          const challenge = () => approvals.challenge(approval, name, args, resourceUrl(c));
          const state = elicitations !== undefined && c.req.header(APPROVALS_MODE_HEADER) !== 'discharge' && elicitations.supports(token)
            ? await elicitations.state(token, callHash(name, args), () => challenge().challenge)
            : undefined;
          if (state === undefined) {
            const made = challenge();
            return reply(id, MCP_ERRORS.approvalRequired, `approval required: ${made.condition}`, { code: 'ERR_DISCHARGE_MISSING', ...made });
          }
          if (state.kind === 'elicit') {
            const message = `A person must approve this call: ${approvals.condition(approval, name, args)}`;
            return reply(id, MCP_ERRORS.urlElicitationRequired, message, { elicitations: [{ mode: 'url', elicitationId: state.elicitationId, url: state.url, message }] });
          }
          const refusal = state.kind === 'refused'
            ? state.error
            : await firstApproval([{ token: state.bundle.token.encode(), discharges: state.bundle.discharges.map((d) => d.encode()) }], name, args);
          if (refusal !== undefined) {
            const said = typeof refusal.details.reason === 'string' && state.kind === 'refused' ? `: ${refusal.details.reason}` : '';
            return reply(id, MCP_ERRORS.forbidden, `approval refused: ${refusal.message}${said}`, errorData(refusal));
          }
        } catch (e) {
          if (!isTesseraError(e) || httpStatus(e) >= 500) throw e;
          return reply(id, rpcCode(e.code), e.message, errorData(e));
        }
      }
      return judge(id, ctx);
    };

    for (const [index, raw] of messages.entries()) {
      if (!isObject(raw) || raw.jsonrpc !== '2.0') {
        replies.set(index, reply(isObject(raw) && isId(raw.id) ? raw.id : null, MCP_ERRORS.invalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message'));
        continue;
      }
      const method = raw.method;
      if (method === undefined && ('result' in raw || 'error' in raw)) {
        forwarded.push({ index, message: raw }); // a response to a server request: the token sufficed
        continue;
      }
      if (typeof method !== 'string') {
        replies.set(index, reply(isId(raw.id) ? raw.id : null, MCP_ERRORS.invalidRequest, 'Invalid Request: method must be a string'));
        continue;
      }
      if (!('id' in raw)) {
        // Notifications have no reply; only real ones pass (a "tools/call" without an id never runs).
        if (method.startsWith('notifications/')) forwarded.push({ index, message: raw });
        continue;
      }
      const id = raw.id;
      if (!isId(id)) {
        replies.set(index, reply(null, MCP_ERRORS.invalidRequest, 'Invalid Request: id must be a string or an integer'));
        continue;
      }
      const params = raw.params ?? {};
      if (!isObject(params)) {
        replies.set(index, reply(id, MCP_ERRORS.invalidParams, 'params must be an object', { code: 'ERR_INVALID_ARGUMENT', field: 'params' }));
        continue;
      }
      let refused: Reply | undefined;
      if (BASE_METHODS.has(method)) {
        if (method === 'initialize') elicitations?.remember(token, declaresUrlElicitation(params));
        refused = undefined;
      } else if (LISTS.has(method)) {
        forwarded.push({ index, message: raw, list: LISTS.get(method) as ListKind });
        continue;
      } else if (method === 'tools/call') {
        refused = await callTool(id, params);
      } else if (method === 'resources/read' || method === 'resources/subscribe' || method === 'resources/unsubscribe') {
        refused = typeof params.uri !== 'string'
          ? reply(id, MCP_ERRORS.invalidParams, `${method} needs params.uri, a string`, { code: 'ERR_INVALID_ARGUMENT', field: 'uri' })
          : await judgeMapped(id, () => resourceOf(params.uri as string), judge);
      } else if (method === 'prompts/get') {
        refused = typeof params.name !== 'string'
          ? reply(id, MCP_ERRORS.invalidParams, 'prompts/get needs params.name, a string', { code: 'ERR_INVALID_ARGUMENT', field: 'name' })
          : await judgeMapped(id, () => promptOf(params.name as string), judge);
      } else {
        refused = reply(id, MCP_ERRORS.methodNotFound, `method ${shown(method)} is not available through this server`);
      }
      if (refused !== undefined) replies.set(index, refused);
      else forwarded.push({ index, message: raw });
    }

    if (badToken !== undefined) return refuse(c, badToken, true);

    let sdkReplies: unknown[] = [];
    let sdkResponse: Response | undefined;
    if (forwarded.length > 0) {
      const server = options.server();
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      try {
        await server.connect(transport);
        const parsedBody = batch ? forwarded.map((f) => f.message) : forwarded[0]?.message;
        sdkResponse = await transport.handleRequest(c.req.raw, { parsedBody });
        // The common case (one allowed message, nothing to filter) goes out as the SDK wrote it.
        if (replies.size === 0 && !forwarded.some((f) => f.list !== undefined)) return sdkResponse;
        if (sdkResponse.status === 200 && (sdkResponse.headers.get('content-type') ?? '').startsWith('application/json')) {
          const parsed: unknown = await sdkResponse.json();
          sdkReplies = Array.isArray(parsed) ? parsed : [parsed];
        } else if (sdkResponse.status !== 202) {
          return sdkResponse; // the SDK refused the request as a whole (406, 415…): its answer stands
        }
      } finally {
        await server.close().catch(() => undefined);
      }
    }
    if (replies.size === 0 && sdkReplies.length === 0) return new Response(null, { status: 202 });

    // Filter list results to what this token could call, then answer in the order asked.
    const byId = new Map<Id, Message>();
    for (const r of sdkReplies) if (isObject(r) && isId(r.id)) byId.set(r.id, r);
    const out: unknown[] = [];
    for (let index = 0; index < messages.length; index++) {
      const mine = replies.get(index);
      if (mine !== undefined) {
        out.push(mine);
        continue;
      }
      const f = forwarded.find((x) => x.index === index);
      const answer = f !== undefined && isId(f.message.id) ? byId.get(f.message.id) : undefined;
      if (answer === undefined) continue;
      byId.delete(f?.message.id as Id);
      if (f?.list !== undefined && isObject(answer.result) && Array.isArray(answer.result[f.list])) {
        const items = answer.result[f.list] as unknown[];
        const kept: unknown[] = [];
        for (const item of items) if (await visible(f.list, item)) kept.push(item);
        out.push({ ...answer, result: { ...answer.result, [f.list]: kept } });
      } else {
        out.push(answer);
      }
    }
    out.push(...byId.values());
    return new Response(JSON.stringify(batch ? out : out[0]), { status: 200, headers: { 'content-type': 'application/json' } });

    /** Could this token use a listed item (judged without arguments)? */
    async function visible(kind: ListKind, item: unknown): Promise<boolean> {
      if (!isObject(item)) return false;
      let ctx: RequestContext;
      let optimistic = true;
      try {
        if (kind === 'tools') {
          if (typeof item.name !== 'string') return false;
          const policy = tools.get(item.name);
          ctx = { tool: item.name, operation: policy?.operation ?? 'call' };
          optimistic = policy?.context !== undefined;
        } else if (kind === 'resources') {
          if (typeof item.uri !== 'string') return false;
          ctx = resourceOf(item.uri);
          optimistic = false;
        } else if (kind === 'resourceTemplates') {
          ctx = { operation: 'read' };
        } else {
          if (typeof item.name !== 'string') return false;
          ctx = promptOf(item.name);
          optimistic = false;
        }
      } catch {
        return false;
      }
      const full = { ...base, ...ctx };
      return firstFailure(await verifier.explain(token, { discharges, context: full }), full, optimistic) === undefined;
    }
  });

  return app;
}

/** Map a request to its context (a mapping error is -32602), then verify it. */
async function judgeMapped(id: Id, map: () => RequestContext, judge: (id: Id, ctx: RequestContext) => Promise<Reply | undefined>): Promise<Reply | undefined> {
  let ctx: RequestContext;
  try {
    ctx = map();
  } catch (e) {
    const err = isTesseraError(e) && httpStatus(e) < 500 ? e : new TesseraError('ERR_INVALID_ARGUMENT', 'the request does not map to a resource', {});
    return reply(id, MCP_ERRORS.invalidParams, err.message, errorData(err));
  }
  return judge(id, ctx);
}

const MAX_APPROVAL_GROUPS = 4;

/** `Tessera-Approval: <challenge>,<discharge>… [<challenge>,<discharge>…]`; malformed groups are ignored (the call then needs approval again). */
function parseApprovalHeader(value: string | undefined, bounds: HeaderBounds): { token: string; discharges: readonly string[] }[] {
  if (value === undefined || value.length > bounds.maxHeaderLength * MAX_APPROVAL_GROUPS) return [];
  const groups: { token: string; discharges: readonly string[] }[] = [];
  for (const group of value.trim().split(' ').slice(0, MAX_APPROVAL_GROUPS)) {
    try {
      groups.push(parseAuthorization(`Macaroon ${group}`, bounds));
    } catch {
      // not a credential list: ignored
    }
  }
  return groups;
}
