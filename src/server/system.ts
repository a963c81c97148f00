/**
 * The whole Tessera system over one database, as one hono app: the front door (`GET /`), the
 * API's description (`GET /openapi.json`), the issuer API, the discharge service and the
 * approval pages. `createSystem` wires the pieces; listening on a port and the first-start admin
 * token are `startServer`'s job (server.ts).
 */
import { Hono } from 'hono';
import type { CaveatRegistry } from '../../caveats/index.js';
import { clientIpReader, nodeClientIp } from '../hono/node.js';
import { TesseraError } from '../errors.js';
import type { ClientIpSource } from '../hono/index.js';
import { errorHandler, notFound } from '../http/errors.js';
import { Issuer, type MintedToken } from '../issuer/issuer.js';
import { Keyring } from '../issuer/keyring.js';
import { RevocationSet } from '../issuer/revocation-set.js';
import { AuditFeed } from '../issuer/listing.js';
import { ADMIN_AUDIENCE, ADMIN_CAVEATS, issuerRoutes } from '../issuer/routes.js';
import { createVerifier } from '../issuer/verifier.js';
import { bakeryRoutes, createDischargeService, dischargeRoutes, issuerPresentations, type DischargeService, type PresentationVerifier } from '../discharge/index.js';
import { approvalPages, checkScryptParams, type ScryptParams } from '../discharge/web/index.js';
import { createAccounts, type Accounts } from '../discharge/accounts.js';
import { approvalsRoutes } from '../discharge/approvals-api.js';
import { APPROVER_AUDIENCE, mintApproverToken } from '../discharge/approver-tokens.js';
import { usersRoutes } from '../issuer/users-routes.js';
import { createStore, type Database, type MasterKey, type Store } from '../storage/index.js';
import { frontDoor } from './front-door.js';
import { createMetrics } from './metrics.js';
import { openApiRoute } from './openapi.js';
import type { Verifier } from '../verifier/index.js';
import { toLogger, type LogOption } from '../log.js';
import { WebhookWorker, webhookRoutes, type WebhookWorkerOptions } from '../webhooks/index.js';

export interface SystemOptions {
  readonly database: Database;
  readonly masterKey: MasterKey;
  /** Where this system is reached; written into tokens as their location. */
  readonly publicUrl: string;
  readonly clock?: () => Date;
  /** Revoked-set resync interval (ms, default 30 s). */
  readonly resyncMs?: number;
  /** Root-key metadata refresh interval (ms, default 30 s). */
  readonly keyRefreshMs?: number;
  /** Caveats the verifiers and mint accept (default: the standard set). */
  readonly caveats?: CaveatRegistry;
  /** Client IP source for `client-ip` caveats on admin tokens and rate limits (default: the TCP peer). */
  readonly clientIp?: ClientIpSource;
  /**
   * The one logger every part of the system writes to (error handler, discharge routes,
   * approval pages, background reloads and resyncs): a Logger, or one function for every line.
   * Default: the console. Never given secrets.
   */
  readonly log?: LogOption;
  /** Webhook delivery (timeouts, retries, polling); `false`: no worker in this process. */
  readonly webhooks?: WebhookWorkerOptions | false;
  /**
   * The scrypt cost of the password hashes this system makes (accounts, invitations), and so of
   * a sign-in for an unknown name (the same work as a real check). Default N 2^15, r 8, p 1:
   * 32 MiB and a few hundred milliseconds per hash. Hashes carry their own
   * parameters, so a change applies to new passwords and every stored one still verifies.
   */
  readonly passwordHashing?: ScryptParams;
}

export interface System {
  readonly database: Database;
  readonly store: Store;
  readonly keyring: Keyring;
  readonly revocations: RevocationSet;
  readonly issuer: Issuer;
  /** Verifies application tokens (what POST /v1/verify uses). */
  readonly verifier: Verifier;
  /** Verifies admin tokens for the admin API. */
  readonly adminVerifier: Verifier;
  /** Verifies approver tokens for the approvals API (/v1/approvals). */
  readonly approverVerifier: Verifier;
  /** The third-party discharge service (what the approval pages drive). */
  readonly discharge: DischargeService;
  /** Approver accounts and invitations. */
  readonly accounts: Accounts;
  /** Every route of the system. */
  readonly app: Hono;
  /** The webhook delivery worker, unless turned off (`webhooks: false`). */
  readonly webhooks: WebhookWorker | undefined;
  /** Mint an admin token allowing every admin operation (ADMIN_CAVEATS). */
  mintAdminToken(label?: string): Promise<MintedToken>;
  /** Stop background work and listening (the database stays open: its owner closes it). */
  close(): Promise<void>;
}

export async function createSystem(options: SystemOptions): Promise<System> {
  const { database, masterKey, clock } = options;
  if (typeof options.publicUrl !== 'string' || !/^https?:\/\/[^\s]+$/.test(options.publicUrl)) {
    throw new TesseraError('ERR_CONFIG', 'publicUrl must be an http(s) URL', { field: 'publicUrl' });
  }
  // Checked before anything starts (listeners, timers): nothing to undo.
  const scrypt = options.passwordHashing !== undefined ? checkScryptParams(options.passwordHashing) : undefined;
  const log = toLogger(options.log);
  const store = createStore(database, masterKey);
  // Endpoints stored before webhook URLs were sealed (migration 11) are sealed now, before
  // anything reads them.
  const sealedUrls = await store.webhooks.sealUrls();
  if (sealedUrls > 0) log.info(`tessera: sealed the URL of ${sealedUrls} webhook endpoint(s) stored before URLs were encrypted at rest`);
  let revocations: RevocationSet | undefined;
  // Before the revoked set starts, so that it reports what it learns from the start.
  const metrics = await createMetrics({ database, store, revocations: () => revocations, clock: clock ?? (() => new Date()) });
  // Presentations ("who asks") are verified against this system's keyring and revocations, made below.
  let presentations: PresentationVerifier | undefined;
  let webhooks: WebhookWorker | undefined;
  // Loads (or creates, once) the discharger's sealed X25519 key: first, as it needs nothing to be cleaned up.
  const discharge = await createDischargeService({
    store,
    location: options.publicUrl,
    presentations: async (presentation, caveatId) => {
      if (presentations === undefined) throw new TesseraError('ERR_INTERNAL', 'the system is still starting');
      return presentations(presentation, caveatId);
    },
    onQueued: () => webhooks?.wake(),
    ...(clock !== undefined ? { clock } : {}),
  });
  const keyring = new Keyring(store, { ...(clock !== undefined ? { clock } : {}), ...(options.keyRefreshMs !== undefined ? { refreshMs: options.keyRefreshMs } : {}) });
  let auditFeed: AuditFeed | undefined;
  let unlistenKeys: () => Promise<void> = async () => undefined;
  let unlistenApprovals: () => Promise<void> = async () => undefined;
  try {
    // Another process rotating or retiring a key is heard at once (the periodic refresh stays as a safety net).
    const reloadKeys = (): void => void keyring.reload().catch(() => log.error('tessera: root key reload failed'));
    unlistenKeys = await database.listenKeyChanges(reloadKeys, { onReconnect: reloadKeys });
    // A decision made on any instance wakes this one's long-polls at once (their periodic
    // re-read stays as the fallback for a lost notification).
    unlistenApprovals = await database.listenApprovals((id) => discharge.decided(id));
    await keyring.reload();
    revocations = await RevocationSet.start(database, store, {
      onAdded: (identifier) => metrics.revocationLearnt(identifier),
      ...(options.resyncMs !== undefined ? { resyncMs: options.resyncMs } : {}),
      ...(clock !== undefined ? { clock } : {}),
      onError: (e) => log.warn(`tessera: revocation resync failed: ${e instanceof TesseraError ? e.code : 'error'}`),
    });
    auditFeed = await AuditFeed.start(database).catch(async (e: unknown) => {
      await revocations?.close();
      throw e;
    });
    if (options.webhooks !== false) {
      const worker = new WebhookWorker({ store, database, log, announceExpired: () => discharge.announceExpired(), ...(clock !== undefined ? { clock } : {}) }, options.webhooks ?? {});
      await worker.start().catch(async (e: unknown) => {
        await auditFeed?.close();
        await revocations?.close();
        throw e;
      });
      webhooks = worker;
    }
  } catch (e) {
    await unlistenApprovals();
    await unlistenKeys();
    keyring.close();
    discharge.close();
    throw e;
  }
  presentations = issuerPresentations({ keyring, revocations, store });
  const common = { keyring, revocations, store, ...(clock !== undefined ? { clock } : {}), ...(options.caveats !== undefined ? { caveats: options.caveats } : {}) };
  const verifier = createVerifier(common);
  const adminVerifier = createVerifier({ ...common, purpose: 'admin', audience: ADMIN_AUDIENCE });
  const approverVerifier = createVerifier({ ...common, purpose: 'approver', audience: APPROVER_AUDIENCE });
  const accounts = createAccounts({ store, ...(clock !== undefined ? { clock } : {}), ...(scrypt !== undefined ? { scrypt } : {}) });
  const clientIp = options.clientIp !== undefined ? { clientIp: options.clientIp } : {};
  const issuer = new Issuer({ store, keyring, revocations, location: options.publicUrl, ...(clock !== undefined ? { clock } : {}), ...(options.caveats !== undefined ? { caveats: options.caveats } : {}) });

  const app = new Hono();
  app.onError(errorHandler(log));
  app.notFound(notFound);
  app.route('/', frontDoor({ publicUrl: options.publicUrl }));
  app.route('/', openApiRoute({ publicUrl: options.publicUrl }));
  app.route(
    '/',
    issuerRoutes({
      issuer,
      adminVerifier,
      verifier,
      store,
      auditFeed,
      ...(clock !== undefined ? { clock } : {}),
      ...(options.clientIp !== undefined ? { clientIp: options.clientIp } : {}),
      health: () => ({ database: database.kind, revoked: revocations.size, revocationSeq: revocations.lastSeq }),
      onVerify: (result, seconds) => metrics.observeVerify(result, seconds),
      metrics: () => metrics.render(),
    }),
  );
  app.route('/', webhookRoutes({ store, adminVerifier, wake: () => webhooks?.wake(), ...clientIp }));
  app.route('/', usersRoutes({ accounts, issuer, adminVerifier, publicUrl: options.publicUrl, ...clientIp }));
  app.route('/', approvalsRoutes({ service: discharge, store, verifier: approverVerifier, ...clientIp }));
  app.route('/', dischargeRoutes(discharge, { log, ...clientIp }));
  // The Go/Python bakery's discharge protocol, for their stock clients.
  app.route('/', bakeryRoutes(discharge, { log, ...clientIp }));
  // An approver mints their own token on the pages: audited as theirs, through the pages.
  const approverTokens = (name: string, ttlSeconds: number) => mintApproverToken(issuer, { name, ttlSeconds, actor: name });
  app.route('/approve', approvalPages({ service: discharge, store, accounts, approverTokens, log, publicUrl: options.publicUrl, clientIp: clientIpReader(options.clientIp ?? nodeClientIp), ...(clock !== undefined ? { clock } : {}), ...(scrypt !== undefined ? { passwordHashing: scrypt } : {}) }));

  let closed = false;
  return Object.freeze({
    database,
    store,
    keyring,
    revocations,
    issuer,
    verifier,
    adminVerifier,
    approverVerifier,
    discharge,
    accounts,
    app,
    webhooks,
    mintAdminToken: (label = 'admin') => issuer.mint({ purpose: 'admin', caveats: ADMIN_CAVEATS, label, subject: ADMIN_AUDIENCE, actor: 'bootstrap' }),
    async close() {
      if (closed) return;
      closed = true;
      // First: its in-flight attempts end (or are given back) while the database is still open.
      await webhooks?.close();
      await unlistenApprovals();
      await unlistenKeys();
      await auditFeed.close();
      keyring.close();
      discharge.close();
      await revocations.close();
    },
  });
}
