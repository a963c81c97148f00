/**
 * Typed builders for condition text, so nobody splices strings: `caveat.ops(['read'])` gives
 * `ops read`. Each builder formats through the caveat type, then proves the text parses back to
 * the same canonical text; any value that would change meaning on the way is refused with
 * ERR_INVALID_ARGUMENT.
 */
import { invalidArgument } from '../src/errors.js';
import { aud } from './aud.js';
import { clientIp, cidrFromText } from './client-ip.js';
import { asInvalidArgument } from './common.js';
import { parseCondition } from './condition.js';
import { declared } from './declared.js';
import { method } from './method.js';
import { ops } from './ops.js';
import { resource } from './resource.js';
import { timeAfter } from './time-after.js';
import { timeBefore } from './time-before.js';
import { tool } from './tool.js';
import type { CaveatType } from './types.js';
import { uses } from './uses.js';

/** `name canonical-argument` for a typed value; ERR_INVALID_ARGUMENT if it does not round-trip. */
export function buildCondition<V>(type: CaveatType<V>, value: V): string {
  const arg = type.format(value);
  const text = `${type.name} ${arg}`;
  asInvalidArgument(() => {
    const condition = parseCondition(text);
    if (condition.name !== type.name || type.format(type.parse(condition.arg)) !== arg) {
      throw invalidArgument('caveat value does not round-trip');
    }
  });
  return text;
}

function text(value: unknown, what: string): string {
  if (typeof value !== 'string') throw invalidArgument(`${what} must be a string`);
  return value;
}

export const caveat = Object.freeze({
  timeBefore: (date: Date): string => buildCondition(timeBefore, date),
  timeAfter: (date: Date): string => buildCondition(timeAfter, date),
  ops: (operations: readonly string[]): string => buildCondition(ops, operations),
  resource: (pattern: string): string =>
    buildCondition(resource, asInvalidArgument(() => resource.parse(text(pattern, 'resource pattern')))),
  method: (methods: readonly string[]): string => buildCondition(method, methods),
  aud: (audience: string): string => buildCondition(aud, audience),
  clientIp: (ranges: readonly string[]): string =>
    buildCondition(clientIp, Array.isArray(ranges) ? ranges.map((r) => cidrFromText(text(r, 'CIDR range'))) : []),
  tool: (tools: readonly string[]): string => buildCondition(tool, tools),
  declared: (key: string, value: string): string => buildCondition(declared, { key, value }),
  uses: (count: number): string => buildCondition(uses, count),
});
