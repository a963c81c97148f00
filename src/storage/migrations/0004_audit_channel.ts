/**
 * Migration 4: every audit event names the channel it came through (HTTP API, local CLI,
 * approval page, discharge API, system), and each new event is announced on `tessera_audit`
 * (by trigger, so every writer does it and only committed rows are heard) for `audit --follow`.
 */
import type { Migration } from './types.js';

export const migration0004: Migration = {
  id: 4,
  name: 'audit-channel',
  statements: [
    `ALTER TABLE "audit_log" ADD COLUMN "channel" text DEFAULT 'system' NOT NULL;`,
    `CREATE INDEX "audit_log_at_idx" ON "audit_log" USING btree ("at");`,
    `CREATE INDEX "tokens_created_at_idx" ON "tokens" USING btree ("created_at");`,
    `CREATE FUNCTION "tessera_audit_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('tessera_audit', NEW.id::text);
  RETURN NULL;
END
$$;`,
    `CREATE TRIGGER "audit_log_notify" AFTER INSERT ON "audit_log" FOR EACH ROW EXECUTE FUNCTION "tessera_audit_notify"();`,
  ],
};
