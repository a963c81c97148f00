/** examples/agent-approval.ts, run as a newcomer runs it: `npx tsx examples/agent-approval.ts`. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('examples/agent-approval.ts', () => {
  it('refused without approval, approved by a person, succeeds once, second use refused', async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile('npx', ['tsx', 'examples/agent-approval.ts'], { cwd: ROOT, timeout: 60_000 }, (error, out, err) =>
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout: out, stderr: err }),
      );
    });
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
  }, 90_000);
});
