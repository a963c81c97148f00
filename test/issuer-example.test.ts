/**
 * examples/revocation.ts runs as a newcomer runs it (test/support/example.ts) and shows the
 * refusal: on a scratch PostgreSQL database when the tests have a server, as the other examples
 * do, else on the in-memory embedded database a newcomer gets. (The embedded database's initdb
 * is what that costs, ~5 s of CPU; it runs in the global setup whenever the migrated template
 * is not cached yet, on every fresh machine.)
 */
import { describe, expect, it } from 'vitest';
import { exampleDatabaseEnv, runExample } from './support/example.js';

describe('examples/revocation.ts', () => {
  it('mints, attenuates offline, verifies, revokes, and shows the refusal', { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await runExample('revocation.ts', [], undefined, await exampleDatabaseEnv());
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^1\. minted tsr1\./m);
    expect(stdout).toContain('2. attenuated offline');
    expect(stdout).toContain('3. read-only copy, read  /reports/q3: allowed');
    expect(stdout).toContain('read-only copy, write /reports/q3: refused: ERR_CAVEAT_FAILED (ops read)');
    expect(stdout).toMatch(/^4\. revoked tsr1\./m);
    expect(stdout).toContain('5. read-only copy, read  /reports/q3: refused: ERR_REVOKED');
    expect(stdout).toContain('in-process verifier:               refused: ERR_REVOKED');
    expect(stdout).not.toContain('unexpected');
  });
});
