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
 * A test of a field value against IP literals as Elasticsearch's term query on an `ip` field
 * runs it, or undefined if some literal is not an address or CIDR block (then the query would
 * fail there; here the values are compared as text). A value that is no address (a number,
 * a boolean, other text) matches nothing (Elasticsearch would not have indexed it).
 */
export function ipTermTest(literals: string[]): ((value: unknown) => boolean) | undefined {
  const blocks: Cidr[] = [];
  for (const literal of literals) {
    const block = parseCidr(literal);
    if (block === undefined) return undefined;
    blocks.push(block);
  }
  return (value) => {
    const ip = typeof value === 'string' ? parseIp(value) : undefined;
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

export function parseIp(text: string): IpBytes | undefined {
  if (text.includes(':')) return parseIpv6(text);
  const v4 = parseIpv4(text);
  if (v4 === undefined) return undefined;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(v4, 12);
  return out;
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

const isIpv4Mapped = (ip: IpBytes): boolean => ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    // No leading zeros, as Elasticsearch's InetAddresses: `010` could be read as octal.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseIpv6(input: string): IpBytes | undefined {
  let text = input;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const out = new Uint8Array(16);
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const groups: number[] = [];
    const parts = s.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i]!;
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (v4 === undefined) return undefined;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
        groups.push(parseInt(p, 16));
      }
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (head === undefined || tail === undefined) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const groups = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}
