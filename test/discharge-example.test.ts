/**
 * examples/agent-approval.ts run as a newcomer runs it (test/support/example.ts), on a scratch
 * PostgreSQL database when the tests have a server (test/issuer-example.test.ts runs
 * examples/revocation.ts on the embedded database).
 */
import { describe, expect, it } from 'vitest';
import { exampleDatabaseEnv, runExample } from './support/example.js';

describe('examples/agent-approval.ts', () => {
  it('refused without approval, approved by a person, succeeds once, second use refused', async () => {
    const { code, stdout, stderr } = await runExample('agent-approval.ts', [], undefined, await exampleDatabaseEnv());
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.split('\n').map((l) => l.trim());
    const after = (marker: string): string | undefined => lines[lines.findIndex((l) => l.startsWith(marker)) + 1];
    expect(stdout).toContain('approve group:ops');
    expect(after('2. Sub-agent calls the deploy API with the token alone')).toMatch(/^401 ERR_DISCHARGE_MISSING/);
    expect(stdout).toMatch(/approval needed: http:\/\/tessera\.local\/approve\/requests\/dr_[A-Za-z0-9_-]{22}/);
    expect(stdout).toMatch(/who asks \(verified\): token "agent", limited to: tool deploy,read; tool deploy; resource \/apps\/web\/\*\*; time-before /);
    expect(stdout).toContain("why (the requester's words): release 1.4 passed CI");
    expect(stdout).toContain('clicked Approve: approved by olivia');
    expect(after('4. Sub-agent calls again')).toBe('200 {"deployed":"web","by":"olivia"}');
    expect(after('And a second time with the same header')).toMatch(/^403 ERR_USAGE_EXCEEDED/);
  }, 120_000);
});
