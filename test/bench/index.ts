/**
 * `npm run bench`: runs every benchmark module in sequence, one after the other, so no two
 * compete for the CPU. Each module exports `async function run(): Promise<void>`; add a module
 * by appending its path to MODULES. A module failing does not stop the others; the exit code says.
 */
interface BenchModule {
  run(): Promise<void>;
}

const MODULES: readonly string[] = ['./token.js', './verify.js', './route.js', './revocation.js', './revoked-set.js', './uses.js', './approval.js', './approval-browser.js', './webhook-latency.js', './mcp.js', './scale-out.js'];

let failed = 0;
for (const path of MODULES) {
  console.log(`\n=== ${path.replace(/^\.\/|\.js$/g, '')} ===\n`);
  try {
    const module = (await import(path)) as BenchModule;
    await module.run();
  } catch (e) {
    failed++;
    console.error(`bench ${path} failed:`, e instanceof Error ? e.message : e);
  }
}
if (failed > 0) process.exitCode = 1;
