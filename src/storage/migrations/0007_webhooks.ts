/**
 * Migration 7: webhook notifications (#11). Endpoints (signing secret sealed), the outbox
 * written in the same transaction as each request change, and every delivery attempt; and a
 * mark on discharge requests once their expiry went into the outbox. Requests that expired
 * before this migration are marked as announced: nobody was subscribed then.
 */
import type { Migration } from './types.js';

export const migration0007: Migration = {
  id: 7,
  name: 'webhooks',
  statements: [
    `CREATE TABLE "webhook_endpoints" (
  "id" text PRIMARY KEY NOT NULL,
  "url" text NOT NULL,
  "addressee" text,
  "format" text DEFAULT 'standard' NOT NULL,
  "sealed_secret" "bytea" NOT NULL,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL,
  CONSTRAINT "webhook_endpoints_format_check" CHECK ("webhook_endpoints"."format" in ('standard', 'slack'))
);`,
    `CREATE TABLE "webhook_outbox" (
  "id" bigserial PRIMARY KEY NOT NULL,
  "endpoint_id" text NOT NULL,
  "event_id" text NOT NULL,
  "request_id" text,
  "type" text NOT NULL,
  "payload" jsonb NOT NULL,
  "status" text DEFAULT 'pending' NOT NULL,
  "attempts" integer DEFAULT 0 NOT NULL,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL,
  "next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
  "locked_until" timestamp with time zone,
  "delivered_at" timestamp with time zone,
  CONSTRAINT "webhook_outbox_status_check" CHECK ("webhook_outbox"."status" in ('pending', 'delivered', 'failed'))
);`,
    `CREATE TABLE "webhook_attempts" (
  "id" bigserial PRIMARY KEY NOT NULL,
  "outbox_id" bigint NOT NULL,
  "endpoint_id" text NOT NULL,
  "at" timestamp with time zone DEFAULT now() NOT NULL,
  "ok" boolean NOT NULL,
  "status_code" integer,
  "latency_ms" integer NOT NULL,
  "error" text
);`,
    `ALTER TABLE "discharge_requests" ADD COLUMN "expiry_announced_at" timestamp with time zone;`,
    `UPDATE "discharge_requests" SET "expiry_announced_at" = now() WHERE "status" = 'expired' OR ("status" = 'pending' AND "expires_at" <= now());`,
    `ALTER TABLE "webhook_attempts" ADD CONSTRAINT "webhook_attempts_outbox_id_webhook_outbox_id_fk" FOREIGN KEY ("outbox_id") REFERENCES "public"."webhook_outbox"("id") ON DELETE cascade ON UPDATE no action;`,
    `ALTER TABLE "webhook_outbox" ADD CONSTRAINT "webhook_outbox_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;`,
    `CREATE INDEX "webhook_attempts_outbox_idx" ON "webhook_attempts" USING btree ("outbox_id");`,
    `CREATE INDEX "webhook_attempts_endpoint_idx" ON "webhook_attempts" USING btree ("endpoint_id","at");`,
    `CREATE INDEX "webhook_outbox_due_idx" ON "webhook_outbox" USING btree ("status","next_attempt_at");`,
    `CREATE INDEX "webhook_outbox_request_idx" ON "webhook_outbox" USING btree ("endpoint_id","request_id");`,
  ],
};
