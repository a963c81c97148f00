/**
 * Migration 11: webhook URLs sealed at rest. An endpoint's URL can be its credential (a Slack
 * incoming-webhook URL is): the whole URL moves to `sealed_url`, sealed under the master key,
 * and `url` keeps only what listings show. SQL cannot seal (the master key is not in the
 * database), so endpoints added before this migration are sealed by the next system start
 * (`store.webhooks.sealUrls()`), which also cuts their `url` down.
 */
import type { Migration } from './types.js';

export const migration0011: Migration = {
  id: 11,
  name: 'sealed_webhook_urls',
  statements: [`ALTER TABLE "webhook_endpoints" ADD COLUMN "sealed_url" bytea;`],
};
