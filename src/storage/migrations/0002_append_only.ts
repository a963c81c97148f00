/**
 * Migration 2: make `audit_log` and `revocations` append-only in the database itself, so not
 * even a bug elsewhere (or a stray admin query) can rewrite history: UPDATE, DELETE and
 * TRUNCATE raise an error.
 */
import type { Migration } from './types.js';

export const migration0002: Migration = {
  id: 2,
  name: 'append-only',
  statements: [
    `CREATE FUNCTION "tessera_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'table % is append-only', TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END
$$;`,
    `CREATE TRIGGER "audit_log_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "audit_log"
  FOR EACH STATEMENT EXECUTE FUNCTION "tessera_append_only"();`,
    `CREATE TRIGGER "revocations_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "revocations"
  FOR EACH STATEMENT EXECUTE FUNCTION "tessera_append_only"();`,
  ],
};
