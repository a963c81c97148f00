/**
 * Migration 8: one-time enrolment links (`tessera users invite`), kept as the SHA-256 of their
 * secret, with the user and groups they enrol and when they expire and were used.
 */
import type { Migration } from './types.js';

export const migration0008: Migration = {
  id: 8,
  name: 'invites',
  statements: [
    `CREATE TABLE "invites" (
  "token_hash" bytea PRIMARY KEY NOT NULL,
  "user_name" text NOT NULL,
  "groups" text[] NOT NULL,
  "created_by" text NOT NULL,
  "created_at" timestamp with time zone DEFAULT now() NOT NULL,
  "expires_at" timestamp with time zone NOT NULL,
  "used_at" timestamp with time zone
);`,
    `CREATE INDEX "invites_user_name_idx" ON "invites" USING btree ("user_name");`,
  ],
};
