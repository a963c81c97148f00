/**
 * examples/revocation.ts runs as a newcomer runs it (test/support/example.ts), on the in-memory
 * embedded database, and shows the refusal.
 */
import { describe, expect, it } from 'vitest';
import { runExample } from './support/example.js';

describe('examples/revocation.ts', () => {
  it('mints, attenuates offline, verifies, revokes, and shows the refusal', { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await runExample('revocation.ts');
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
