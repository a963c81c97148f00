/**
 * The `uses 1` race across processes on one PostgreSQL: N verifier processes each fire C
 * verifications of the same `uses 1` token at the same moment; exactly one may succeed. The
 * counter is one atomic INSERT … ON CONFLICT DO UPDATE … WHERE used < limit statement.
 *
 *   DATABASE_URL=postgres://… npx tsx test/bench/uses.ts [rounds] [processes] [concurrency]
 *   (defaults: 10 rounds, 4 processes, 16 concurrent verifications each)
 *
 * Runs on a fresh database (dropped afterwards). Without DATABASE_URL it says so and skips.
 */
import { pathToFileURL } from 'node:url';
import { raceUses } from '../support/multiprocess.js';

/** Run the benchmark; resolves to whether every round let exactly one verification through. */
export async function usesBench(rounds = 10, processes = 4, concurrency = 16): Promise<boolean> {
  const url = process.env.DATABASE_URL;
  if (url === undefined || url === '') {
    console.log('uses 1 race: skipped (DATABASE_URL not set; needs PostgreSQL and several processes)');
    return true;
  }
  const results = await raceUses(url, { processes, concurrency, rounds });
  const oks = results.map((r) => r.ok);
  const others = results.flatMap((r) => Object.entries(r.other).map(([code, n]) => `${code}×${n}`));
  const ok = oks.every((n) => n === 1) && others.length === 0;
  console.log(
    `uses 1 race (PostgreSQL, ${processes} processes × ${concurrency} concurrent verifications, ${rounds} rounds): ` +
      `successes per round ${oks.join(', ')} (must each be exactly 1: ${ok ? 'met' : 'MISSED'})` +
      (others.length > 0 ? `; unexpected outcomes: ${others.join(', ')}` : ''),
  );
  return ok;
}

/** For `npm run bench` (test/bench/index.ts): throws when the target is missed. */
export async function run(): Promise<void> {
  if (!(await usesBench())) throw new Error('uses 1 race let more or fewer than one verification through');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [rounds, processes, concurrency] = [2, 3, 4].map((i) => Number(process.argv[i]));
  const pick = (n: number | undefined, d: number): number => (n !== undefined && Number.isSafeInteger(n) && n > 0 ? n : d);
  usesBench(pick(rounds, 10), pick(processes, 4), pick(concurrency, 16)).then(
    (ok) => process.exit(ok ? 0 : 1),
    (e: unknown) => {
      console.error('uses failed:', e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
