/**
 * Migration 1: the initial schema (generated from `../schema.ts` with drizzle-kit's
 * `generateMigration`, then frozen here). Never edit an applied migration: add a new file.
 */
import type { Migration } from './types.js';

export const migration0001: Migration = {
  id: 1,
  name: 'initial',
  statements: [
    `CREATE TABLE "audit_log" (
  "id" bigserial PRIMARY KEY NOT NULL,
  "at" timestamp with time zone DEFAULT now() NOT NULL,
  "actor" text NOT NULL,
  "action" text NOT NULL,
  "subject" text,
  "details" jsonb DEFAULT '{}'::jsonb NOT NULL
);`,
    `CREATE TABLE "discharge_requests" (
  "id" text PRIMARY KEY NOT NULL,
  "poll_token_hash" "bytea" NOT NULL,
  "caveat_id_hash" "bytea" NOT NULL,
  "condition" text NOT NULL,
  "who" text NOT NULL,
  "what" text NOT NULL,
  "requester" jsonb DEFAULT '{}'::jsonb NOT NULL,
  "status" text DEFAULT 'pending' NOT NULL,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL,
  "expires_at" timestamp with time zone NOT NULL,
  "decided_at" timestamp with time zone,
  "decided_by" text,
  "decision_reason" text,
  "validity_seconds" integer NOT NULL,
  "discharge" text,
  "collected_at" timestamp with time zone,
  CONSTRAINT "discharge_requests_poll_token_hash_unique" UNIQUE("poll_token_hash"),
  CONSTRAINT "discharge_requests_status_check" CHECK ("discharge_requests"."status" in ('pending', 'approved', 'denied', 'expired', 'collected'))
);`,
    `CREATE TABLE "discharger_keys" (
  "id" text PRIMARY KEY NOT NULL,
  "sealed_private_key" "bytea" NOT NULL,
  "public_key" "bytea" NOT NULL,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL
);`,
    `CREATE TABLE "revocations" (
  "seq" bigserial NOT NULL,
  "identifier" text PRIMARY KEY NOT NULL,
  "revoked_at" timestamp with time zone DEFAULT now() NOT NULL,
  "reason" text,
  CONSTRAINT "revocations_seq_unique" UNIQUE("seq")
);`,
    `CREATE TABLE "root_keys" (
  "id" text PRIMARY KEY NOT NULL,
  "sealed_key" "bytea" NOT NULL,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL,
  "expires_at" timestamp with time zone,
  "retired_at" timestamp with time zone
);`,
    `CREATE TABLE "sessions" (
  "id_hash" "bytea" PRIMARY KEY NOT NULL,
  "user_name" text NOT NULL,
  "csrf_hash" "bytea" NOT NULL,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL,
  "expires_at" timestamp with time zone NOT NULL,
  "revoked_at" timestamp with time zone
);`,
    `CREATE TABLE "tokens" (
  "identifier" text PRIMARY KEY NOT NULL,
  "root_key_id" text NOT NULL,
  "subject" text,
  "label" text,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL,
  "expires_at" timestamp with time zone,
  "revoked_at" timestamp with time zone
);`,
    `CREATE TABLE "usage_counters" (
  "scope" text PRIMARY KEY NOT NULL,
  "used" integer NOT NULL,
  "limit" integer NOT NULL,
  "updated_at" timestamp with time zone DEFAULT now() NOT NULL,
  CONSTRAINT "usage_counters_used_nonneg" CHECK ("usage_counters"."used" >= 0)
);`,
    `CREATE TABLE "users" (
  "name" text PRIMARY KEY NOT NULL,
  "password_hash" text NOT NULL,
  "groups" text[] NOT NULL,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL
);`,
    `ALTER TABLE "sessions" ADD CONSTRAINT "sessions_user_name_users_name_fk" FOREIGN KEY ("user_name") REFERENCES "public"."users"("name") ON DELETE cascade ON UPDATE no action;`,
    `ALTER TABLE "tokens" ADD CONSTRAINT "tokens_root_key_id_root_keys_id_fk" FOREIGN KEY ("root_key_id") REFERENCES "public"."root_keys"("id") ON DELETE no action ON UPDATE no action;`,
    `CREATE INDEX "audit_log_action_idx" ON "audit_log" USING btree ("action");`,
    `CREATE INDEX "audit_log_subject_idx" ON "audit_log" USING btree ("subject");`,
    `CREATE INDEX "discharge_requests_status_idx" ON "discharge_requests" USING btree ("status");`,
    `CREATE INDEX "root_keys_created_at_idx" ON "root_keys" USING btree ("created_at");`,
    `CREATE INDEX "sessions_user_name_idx" ON "sessions" USING btree ("user_name");`,
    `CREATE INDEX "tokens_subject_idx" ON "tokens" USING btree ("subject");`,
    `CREATE INDEX "tokens_root_key_id_idx" ON "tokens" USING btree ("root_key_id");`,
  ],
};
