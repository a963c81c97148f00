/**
 * Caveats in plain words for the approval page: `time-before 2026-05-01T12:00:00Z` reads
 * "expires at 2026-05-01 12:00:00 UTC". Each standard caveat is parsed with its own type (so
 * the words are only ever built from a value that parsed); anything else — an application
 * caveat, a third-party caveat, text that does not parse — is shown as its raw text.
 */
import {
  aud,
  clientIp,
  declared,
  method,
  ops,
  parseCondition,
  resource,
  timeAfter,
  timeBefore,
  tool,
  uses,
} from '../../../caveats/index.js';

/** A time as the pages show it: `2026-05-01 12:00:00 UTC`. */
export function formatTime(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'an invalid time' : date.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC');
}

const list = (items: readonly string[]): string => items.join(', ');

const DESCRIBERS: Readonly<Record<string, (arg: string) => string>> = {
  [timeBefore.name]: (arg) => `expires at ${formatTime(timeBefore.parse(arg))}`,
  [timeAfter.name]: (arg) => `not valid before ${formatTime(timeAfter.parse(arg))}`,
  [ops.name]: (arg) => `only operations: ${list(ops.parse(arg))}`,
  [resource.name]: (arg) => (resource.parse(arg), `only resources matching ${arg}`),
  [method.name]: (arg) => `only HTTP methods: ${list(method.parse(arg))}`,
  [aud.name]: (arg) => `only for the service ${aud.parse(arg)}`,
  [clientIp.name]: (arg) => `only from IP addresses in ${list(clientIp.parse(arg).map((c) => `${c.address}/${c.prefix}`))}`,
  [tool.name]: (arg) => `only tools: ${list(tool.parse(arg))}`,
  [declared.name]: (arg) => {
    const d = declared.parse(arg);
    return `declares ${d.key} = ${d.value}`;
  },
  [uses.name]: (arg) => {
    const n = uses.parse(arg);
    return n === 1 ? 'can be used once' : `can be used at most ${n} times`;
  },
};

/** A condition in plain words, or its raw text when it is not a standard caveat that parses. */
export function describeCaveat(condition: string): string {
  try {
    const { name, arg } = parseCondition(condition);
    const describe = Object.hasOwn(DESCRIBERS, name) ? DESCRIBERS[name] : undefined;
    return describe === undefined ? condition : describe(arg);
  } catch {
    return condition;
  }
}
