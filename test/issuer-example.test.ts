/** examples/revocation.ts runs as a newcomer runs it (`npx tsx examples/revocation.ts`) and shows the refusal. */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';

describe('examples/revocation.ts', () => {
  it('mints, attenuates offline, verifies, revokes, and shows the refusal', { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      execFile('npx', ['tsx', 'examples/revocation.ts'], { cwd: ROOT, timeout: 110_000 }, (e, out, err) =>
        resolve({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : null, stdout: out, stderr: err }),
      ),
    );
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
