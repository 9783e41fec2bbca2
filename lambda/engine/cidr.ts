/**
 * IP addresses and CIDR blocks for cidrMatch. Like Elasticsearch's `ip` type, IPv4
 * addresses are handled as IPv4-mapped IPv6 (::ffff:a.b.c.d), so one 16-byte
 * representation serves both families.
 */

export type IpBytes = Uint8Array; // always 16 bytes

export interface Cidr {
  bytes: IpBytes;
  prefix: number; // 0..128 over the 16-byte form
}

/**
 * ECS's `ip` fields (`source.ip`, `destination.ip`, `host.ip`, `related.ip`, …): Elasticsearch
 * maps them as `ip`, so `==`, `!=` and `in` compare addresses, not text (`::1` is
 * `0:0:0:0:0:0:0:1`, `169.254.169.254` is `::ffff:a9fe:a9fe`), and a literal with a `/` is a
 * CIDR block. The engine sees no mappings; the ECS naming stands in for them.
 */
export const isIpField = (field: string): boolean => field === 'ip' || field.endsWith('.ip');

/**
 * A test of an ip field's value (in normal form) against IP literals as Elasticsearch's term
 * query on an `ip` field runs it, or undefined if some literal is not an address or CIDR block (then the query would
 * fail there; here the values are compared as text). A value that is no address (a number,
 * a boolean, other text) matches nothing (Elasticsearch would not have indexed it).
 */
export function ipTermTest(literals: string[]): ((value: unknown) => boolean) | undefined {
  // Values of ip fields come in normal form (ipFieldValue), one text per address: an address
  // compares as that text, unparsed; only a block needs the value's bytes.
  const addresses = new Set<string>();
  const blocks: Cidr[] = [];
  for (const literal of literals) {
    const block = parseCidr(literal);
    if (block === undefined) return undefined;
    if (literal.includes('/')) blocks.push(block);
    else addresses.add(formatIp(block.bytes));
  }
  return (value) => {
    if (typeof value !== 'string') return false;
    if (addresses.has(value)) return true;
    if (blocks.length === 0) return false;
    const ip = parseIp(value);
    return ip !== undefined && blocks.some((b) => cidrContains(b, ip));
  };
}

/** The longest text an address can be written as (a full IPv6 address with an IPv4 tail), and room for a zone. */
const MAX_IP_TEXT = 64;

/**
 * A value of an `ip` field as Elasticsearch holds it: the address in its normal text form
 * (functions read doc values, which print `::ffff:10.0.0.5` as `10.0.0.5` and
 * `0:0:0:0:0:0:0:1` as `::1`), or undefined for a value that is no address (Elasticsearch
 * does not index it: `ignore_malformed`, the default of the logs-*-* data streams), which
 * makes the field missing.
 */
export function ipFieldValue(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_IP_TEXT) return undefined;
  const ip = parseIp(value);
  return ip === undefined ? undefined : formatIp(ip);
}

/** An address as Elasticsearch (Guava's InetAddresses.toAddrString) prints it. */
export function formatIp(ip: IpBytes): string {
  if (isIpv4Mapped(ip)) return `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((ip[2 * i]! << 8) | ip[2 * i + 1]!);
  // The longest run of two or more zero groups (the first of equals) becomes `::`.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.map((g) => g.toString(16)).join(':');
  const hex = (from: number, to: number): string => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  return `${hex(0, bestStart)}::${hex(bestStart + bestLength, 8)}`;
}

/**
 * An address as Elasticsearch's InetAddresses reads it: dotted IPv4 without leading zeros, or
 * IPv6 with `::` at most once, an IPv4 tail only at its end, and a non-empty zone (dropped).
 * One pass over the characters, without splitting: it runs on every value of an ip field.
 */
export function parseIp(text: string): IpBytes | undefined {
  const out = new Uint8Array(16);
  if (!text.includes(':')) {
    if (readIpv4(text, 0, text.length, out, 12) !== text.length) return undefined;
    out[10] = 0xff;
    out[11] = 0xff;
    return out;
  }
  return readIpv6(text, out) ? out : undefined;
}

/**
 * Reads dotted IPv4 at `from` into out[at..at+4), ending exactly at `end`; returns where it
 * stopped (`end` when it read an address), or -1.
 */
function readIpv4(text: string, from: number, end: number, out: Uint8Array, at: number): number {
  let i = from;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (i >= end || text.charCodeAt(i) !== 0x2e) return -1; // '.'
      i++;
    }
    const start = i;
    let value = 0;
    while (i < end && i - start < 4) {
      const c = text.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      value = value * 10 + (c - 0x30);
      i++;
    }
    const digits = i - start;
    // No leading zeros, as Elasticsearch's InetAddresses: `010` could be read as octal.
    if (digits === 0 || digits > 3 || value > 255 || (digits > 1 && text.charCodeAt(start) === 0x30)) return -1;
    out[at + part] = value;
  }
  return i;
}

const hexValue = (c: number): number => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1);

function readIpv6(text: string, out: Uint8Array): boolean {
  let end = text.length;
  const zone = text.indexOf('%');
  if (zone >= 0) {
    if (zone === end - 1) return false; // an empty zone, as Elasticsearch's parser refuses
    end = zone;
  }
  const groups = new Array<number>(8);
  let count = 0;
  let gap = -1; // where `::` stands, in groups
  let i = 0;
  if (text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    if (count === 8) return false;
    const start = i;
    let value = 0;
    while (i < end && i - start < 5) {
      const d = hexValue(text.charCodeAt(i));
      if (d < 0) break;
      value = value * 16 + d;
      i++;
    }
    if (i < end && text.charCodeAt(i) === 0x2e) {
      // A dotted IPv4 tail: it ends the address, and takes two groups.
      if (count > 6) return false;
      const bytes = new Uint8Array(4);
      if (readIpv4(text, start, end, bytes, 0) !== end) return false;
      groups[count++] = (bytes[0]! << 8) | bytes[1]!;
      groups[count++] = (bytes[2]! << 8) | bytes[3]!;
      break;
    }
    if (i === start || i - start > 4) return false;
    groups[count++] = value;
    if (i === end) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (text.charCodeAt(i) === 0x3a && i < end) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    } else if (i === end) {
      return false; // a lone ':' at the end
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return false;
  const zeros = 8 - count;
  for (let g = 0, k = 0; g < 8; g++) {
    const v = gap >= 0 && g >= gap && g < gap + zeros ? 0 : groups[k++]!;
    out[2 * g] = v >> 8;
    out[2 * g + 1] = v & 0xff;
  }
  return true;
}

export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const bytes = parseIp(addr);
  if (bytes === undefined) return undefined;
  const isV4 = !addr.includes(':');
  // As Elasticsearch: a prefix on an IPv4-mapped address (`::ffff:1.2.3.4/8`) is ambiguous, refused.
  if (slash >= 0 && !isV4 && isIpv4Mapped(bytes)) return undefined;
  const max = isV4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max) return undefined;
    prefix = Number(p);
  }
  return { bytes, prefix: isV4 ? prefix + 96 : prefix };
}

export function cidrContains(cidr: Cidr, ip: IpBytes): boolean {
  let bits = cidr.prefix;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((cidr.bytes[i]! & mask) !== (ip[i]! & mask)) return false;
  }
  return true;
}

function isIpv4Mapped(ip: IpBytes): boolean {
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return false;
  return ip[10] === 0xff && ip[11] === 0xff;
}

