/**
 * Migration 10: WebAuthn passkeys for approvers. Their credentials, the challenges of
 * ceremonies in flight (single use, short-lived), whether a user or a group must use a passkey,
 * and how each browser session was signed in (password or passkey). A passkey-only group may
 * let its members' approver tokens decide (`allow_approver_tokens`, off unless set).
 */
import type { Migration } from './types.js';

export const migration0010: Migration = {
  id: 10,
  name: 'passkeys',
  statements: [
    `ALTER TABLE "users" ADD COLUMN "require_passkey" boolean DEFAULT false NOT NULL;`,
    `ALTER TABLE "sessions" ADD COLUMN "auth_method" text DEFAULT 'password' NOT NULL;`,
    `ALTER TABLE "sessions" ADD CONSTRAINT "sessions_auth_method_check" CHECK ("sessions"."auth_method" in ('password', 'passkey'));`,
    `CREATE TABLE "passkey_credentials" (
	"id" text PRIMARY KEY NOT NULL,
	"user_name" text NOT NULL,
	"public_key" bytea NOT NULL,
	"counter" bigint NOT NULL,
	"transports" text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	CONSTRAINT "passkey_credentials_counter_check" CHECK ("passkey_credentials"."counter" >= 0)
);`,
    `ALTER TABLE "passkey_credentials" ADD CONSTRAINT "passkey_credentials_user_name_users_name_fk" FOREIGN KEY ("user_name") REFERENCES "public"."users"("name") ON DELETE cascade ON UPDATE no action;`,
    `CREATE INDEX "passkey_credentials_user_name_idx" ON "passkey_credentials" USING btree ("user_name");`,
    `CREATE TABLE "passkey_challenges" (
	"binding_hash" bytea PRIMARY KEY NOT NULL,
	"purpose" text NOT NULL,
	"challenge" text NOT NULL,
	"user_name" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "passkey_challenges_purpose_check" CHECK ("passkey_challenges"."purpose" in ('register', 'authenticate'))
);`,
    `ALTER TABLE "passkey_challenges" ADD CONSTRAINT "passkey_challenges_user_name_users_name_fk" FOREIGN KEY ("user_name") REFERENCES "public"."users"("name") ON DELETE cascade ON UPDATE no action;`,
    `CREATE INDEX "passkey_challenges_expires_at_idx" ON "passkey_challenges" USING btree ("expires_at");`,
    `CREATE TABLE "passkey_groups" (
	"name" text PRIMARY KEY NOT NULL,
	"allow_approver_tokens" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);`,
  ],
};
