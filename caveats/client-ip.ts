/**
 * `client-ip 10.0.0.0/8,2001:db8::/32`: the request's `ip` must fall in one of the CIDR ranges.
 *
 * Addresses are validated as Node's `net.isIP` does (dotted quads without leading zeros; no IPv6
 * zone ids), without Node.
 * A bare address means a single host (/32 or /128). The prefix is a decimal without leading zeros
 * and the address may not have host bits set past it. IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is
 * treated as the IPv4 address, both in requests and in ranges (`::ffff:10.0.0.0/104` is
 * `10.0.0.0/8`). Canonical text: IPv4 dotted quad, IPv6 in RFC 5952 form, always with `/prefix`,
 * ranges sorted. Matching is an exact prefix comparison of the address bytes.
 */
import { OK, asInvalidArgument, fail, formatGuard, formatList, malformedArg, parseList } from './common.js';
import type { CaveatType } from './types.js';

/** One range: canonical address text, prefix length, and the address bytes (4 or 16). */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly bytes: readonly number[];
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** The bytes of `:`-separated IPv6 groups; a dotted quad only as the last group, when allowed. */
function groupBytes(half: string, quadLast: boolean): number[] | undefined {
  if (half === '') return [];
  const groups = half.split(':');
  const bytes: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i] as string;
    if (HEX_GROUP.test(g)) bytes.push(parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff);
    else if (quadLast && i === groups.length - 1 && IPV4.test(g)) bytes.push(...g.split('.').map(Number));
    else return undefined;
  }
  return bytes;
}

/**
 * The bytes of an IP address (IPv4-mapped IPv6 folded to IPv4), or undefined if it is not one.
 * Accepts what Node's `net.isIP` does, written out so the core runs on any runtime: dotted quads
 * without leading zeros; IPv6 as eight groups, or fewer around one `::` (standing for at least
 * one zero group), optionally ending in a dotted quad; no zone ids (`%eth0` names an interface).
 */
function ipBytes(text: string): number[] | undefined {
  if (IPV4.test(text)) return text.split('.').map(Number);
  const halves = text.split('::');
  if (halves.length > 2 || !text.includes(':')) return undefined;
  const head = groupBytes(halves[0] as string, halves.length === 1);
  const tail = halves.length === 2 ? groupBytes(halves[1] as string, true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const zeros = 16 - head.length - tail.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 2) return undefined;
  const bytes = [...head, ...Array<number>(zeros).fill(0), ...tail];
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

/** True when `text` is an IPv4 or IPv6 address as `client-ip` reads them. */
export const isIpAddress = (text: string): boolean => ipBytes(text) !== undefined;

/** RFC 5952 text for 16 address bytes: lower case, no leading zeros, longest zero run (≥ 2) as `::`. */
function formatIpv6(bytes: readonly number[]): string {
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  let bytes = ipBytes(slash < 0 ? text : text.slice(0, slash));
  if (bytes === undefined) throw malformedArg('invalid IP address');
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  const isV6Text = text.includes(':');
  const max = isV6Text ? 128 : 32;
  let prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefixText !== undefined && (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || prefix > max)) {
    throw malformedArg('invalid CIDR prefix length');
  }
  if (isV6Text && bytes.length === 4) {
    // IPv4-mapped range: only a prefix covering the ::ffff:0:0/96 part is an IPv4 range.
    if (prefix < 96) throw malformedArg('IPv4-mapped range shorter than /96');
    prefix -= 96;
  }
  if (!sameBits(bytes, bytes.map(() => 0), prefix, bytes.length * 8)) throw malformedArg('CIDR address has host bits set');
  bytes = Object.freeze(bytes) as number[];
  return Object.freeze({ address: bytes.length === 4 ? bytes.join('.') : formatIpv6(bytes), prefix, bytes });
}

/** True when `a` and `b` agree on bits [from, to). */
function sameBits(a: readonly number[], b: readonly number[], from: number, to: number): boolean {
  for (let bit = from; bit < to; bit++) {
    if (((a[bit >> 3]! ^ b[bit >> 3]!) & (0x80 >> bit % 8)) !== 0) return false;
  }
  return true;
}

export const clientIp: CaveatType<readonly Cidr[]> = {
  name: 'client-ip',
  parse: (arg) => parseList(arg, parseCidr, (c) => `${c.address}/${c.prefix}`),
  format: (ranges) =>
    formatList(ranges, (c) => {
      const text = `${c?.address}/${c?.prefix}`;
      const parsed = cidrFromText(text);
      formatGuard(`${parsed.address}/${parsed.prefix}` === text ? undefined : `non-canonical range ${text}`);
      return text;
    }),
  check(ranges, ctx) {
    if (typeof ctx.ip !== 'string') return fail('request has no client IP');
    const ip = ipBytes(ctx.ip);
    if (ip === undefined) return fail('request client IP is not an IP address');
    return ranges.some((r) => r.bytes.length === ip.length && sameBits(r.bytes, ip, 0, r.prefix)) ? OK : fail('client IP not allowed');
  },
};

/** Parse one range given by a program (for the `caveat.clientIp` builder): ERR_INVALID_ARGUMENT. */
export const cidrFromText = (text: string): Cidr => asInvalidArgument(() => parseCidr(text));
