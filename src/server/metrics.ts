/**
 * `GET /metrics`: the system's metrics in the Prometheus text format, through `prom-client`
 * (an optional peer dependency, loaded when a system starts, like the database drivers: a
 * verifying service installs none of it). Each system has its own registry, never prom-client's
 * global one, so several systems in one process (tests, an embedding application) do not clash.
 *
 *   tessera_verifications_total{result}          POST /v1/verify answers: `allowed` or the error code
 *   tessera_verify_duration_seconds              POST /v1/verify latency (histogram)
 *   tessera_revocation_propagation_seconds       from a revocation's commit to this instance's
 *                                                revoked set holding it (histogram)
 *   tessera_revoked_set_size                     identifiers in this instance's revoked set
 *   tessera_revocation_log_position              the revocation log position loaded
 *   tessera_pending_approvals                    pending, unexpired discharge requests (all instances)
 *   tessera_webhook_backlog                      notifications waiting in the outbox (all instances)
 *   tessera_database_connections{state}          PostgreSQL: connections to this database by state
 *                                                (every client's: postgres.js does not expose its pool)
 *
 * No label ever holds a token, identifier or name: result codes are the fixed ErrorCode set.
 */
import { sql } from 'drizzle-orm';
import { TesseraError } from '../errors.js';
import type { RevocationSet } from '../issuer/revocation-set.js';
import type { Database, Store } from '../storage/index.js';
import { loadOptionalPackage } from '../util/optional-package.js';

export interface SystemMetrics {
  /** One POST /v1/verify answer: `allowed` or the refusal's error code, and how long it took. */
  observeVerify(result: string, seconds: number): void;
  /** A revocation this instance just learnt (from NOTIFY, its own revoke, or a resync). */
  revocationLearnt(identifier: string): void;
  /** The metrics as Prometheus text. */
  render(): Promise<{ readonly contentType: string; readonly body: string }>;
}

export interface MetricsSources {
  readonly database: Database;
  readonly store: Store;
  readonly revocations: () => RevocationSet | undefined;
  readonly clock: () => Date;
}

/** Concurrent look-ups of a learnt revocation's commit time; more are not measured. */
const MAX_LOOKUPS = 8;

/**
 * The system's metrics, or metrics that refuse to render (ERR_CONFIG naming the package) when
 * prom-client is not installed: the system runs without it.
 */
export async function createMetrics(sources: MetricsSources): Promise<SystemMetrics> {
  let client: typeof import('prom-client');
  try {
    client = await loadOptionalPackage('prom-client', 'GET /metrics', () => import('prom-client'));
  } catch (e) {
    if (!(e instanceof TesseraError)) throw e;
    const missing = e;
    return {
      observeVerify: () => undefined,
      revocationLearnt: () => undefined,
      render: () => Promise.reject(missing),
    };
  }
  const { database, store } = sources;
  const registry = new client.Registry();
  const registers = [registry];
  const verifications = new client.Counter({ name: 'tessera_verifications_total', help: 'POST /v1/verify answers by result: allowed, or the error code', labelNames: ['result'] as const, registers });
  const verifyDuration = new client.Histogram({
    name: 'tessera_verify_duration_seconds',
    help: 'POST /v1/verify latency in seconds',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers,
  });
  const propagation = new client.Histogram({
    name: 'tessera_revocation_propagation_seconds',
    help: "Seconds from a revocation's commit to this instance's revoked set holding it",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  new client.Gauge({
    name: 'tessera_revoked_set_size',
    help: "Identifiers in this instance's in-memory revoked set",
    registers,
    collect() {
      this.set(sources.revocations()?.size ?? 0);
    },
  });
  new client.Gauge({
    name: 'tessera_revocation_log_position',
    help: 'The revocation log position this instance has loaded',
    registers,
    collect() {
      this.set(sources.revocations()?.lastSeq ?? 0);
    },
  });
  new client.Gauge({
    name: 'tessera_pending_approvals',
    help: 'Pending, unexpired discharge requests (shared by every instance)',
    registers,
    async collect() {
      this.set(await store.discharges.countAllPending(sources.clock()));
    },
  });
  new client.Gauge({
    name: 'tessera_webhook_backlog',
    help: 'Webhook notifications waiting in the outbox for delivery or a retry (shared by every instance)',
    registers,
    async collect() {
      this.set((await store.webhooks.counts()).pending);
    },
  });
  if (database.kind === 'postgres') {
    new client.Gauge({
      name: 'tessera_database_connections',
      help: "Connections to this PostgreSQL database by state (every client's, not only this instance's)",
      labelNames: ['state'] as const,
      registers,
      async collect() {
        const rows = (await database.db.execute(
          sql`select coalesce(state, 'unknown') as state, count(*)::int as n from pg_stat_activity where datname = current_database() group by 1`,
        )) as unknown as readonly { state: string; n: number }[];
        this.reset();
        for (const r of rows) this.set({ state: r.state }, r.n);
      },
    });
  }

  let lookups = 0;
  return {
    observeVerify(result, seconds) {
      verifications.inc({ result });
      verifyDuration.observe(seconds);
    },
    revocationLearnt(identifier) {
      // Wall time on both sides (revoked_at is the database's now() at the revoke), not the
      // system's clock, which tests may move.
      const learntAt = Date.now();
      if (lookups >= MAX_LOOKUPS) return;
      lookups++;
      void store.revocations
        .get(identifier)
        .then((r) => {
          if (r !== undefined) propagation.observe(Math.max(0, learntAt - r.revokedAt.getTime()) / 1000);
        })
        .catch(() => undefined)
        .finally(() => lookups--);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
