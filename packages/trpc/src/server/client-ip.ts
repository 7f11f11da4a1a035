import { ipv6Hextets } from './address-group.js';

/** Which proxies may set X-Forwarded-For. */
export type TrustProxy =
  /** Never trust it (the default): the client is the socket's peer. */
  | false
  /**
   * One trusted proxy in front of the server (the same as `1`): the client is the rightmost entry,
   * the one that proxy appended. The entries before it are whatever the client sent.
   */
  | true
  /** Trust this many proxy hops in front of the server (e.g. 1 behind one load balancer). */
  | number
  /** Trust only these proxy addresses (exact IPs or CIDR ranges such as `10.0.0.0/8`, `fd00::/8`). */
  | readonly string[];

/** The parts of a request `clientIp` reads. */
export interface RequestAddressInfo {
  /** The socket peer (`req.socket.remoteAddress` on Node). */
  remoteAddress?: string | undefined;
  headers: Headers | Record<string, string | string[] | undefined>;
}

function header(headers: RequestAddressInfo['headers'], name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const value = (headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** `::ffff:10.0.0.1` and `10.0.0.1` are the same peer. */
function normalise(address: string): string {
  const trimmed = address.trim();
  return trimmed.startsWith('::ffff:') && trimmed.includes('.') ? trimmed.slice(7) : trimmed;
}

function ipv4ToNumber(address: string): number | undefined {
  const parts = address.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

/** Does the IPv6 `address` fall in `range`/`bits`? */
function matchesIpv6(address: string, range: string, bits: number): boolean {
  const ip = ipv6Hextets(address);
  const base = ipv6Hextets(range);
  if (ip === undefined || base === undefined || !(bits >= 0 && bits <= 128)) return false;
  for (let group = 0; group < 8; group++) {
    const left = Math.max(0, Math.min(16, bits - group * 16));
    if (left === 0) return true;
    const mask = (0xffff << (16 - left)) & 0xffff;
    if ((ip[group]! & mask) !== (base[group]! & mask)) return false;
  }
  return true;
}

/**
 * Is `rule` an entry `clientIp` can match: an IPv4 or IPv6 address, or a CIDR range of either? For
 * checking configuration at start: an entry that is none of these would silently trust nobody.
 */
export function isProxyRule(rule: string): boolean {
  const [range, bitsText, extra] = rule.trim().split('/');
  if (extra !== undefined || range === undefined) return false;
  const v6 = range.includes(':');
  if (v6 ? ipv6Hextets(range) === undefined : ipv4ToNumber(range) === undefined) return false;
  if (bitsText === undefined) return true;
  return /^\d{1,3}$/.test(bitsText) && Number(bitsText) <= (v6 ? 128 : 32);
}

function matches(address: string, rule: string): boolean {
  const [range, bitsText] = rule.split('/');
  if (range?.includes(':')) {
    const bits = bitsText === undefined ? 128 : Number(bitsText);
    return address.includes(':') && matchesIpv6(address, range, bits);
  }
  if (bitsText === undefined) return normalise(rule) === address;
  const ip = ipv4ToNumber(address);
  const base = ipv4ToNumber(range!);
  const bits = Number(bitsText);
  if (ip === undefined || base === undefined || !(bits >= 0 && bits <= 32)) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(ip / size) === Math.floor(base / size);
}

/** Is `address` one of the proxies `rules` lists (addresses or CIDR ranges, as `TrustProxy`'s list)? */
export function isTrustedProxy(address: string, rules: readonly string[]): boolean {
  const peer = normalise(address);
  return rules.some((rule) => matches(peer, rule));
}

/**
 * The client's IP address for rate limiting. X-Forwarded-For is read only when `trustProxy` says
 * the hop that sent it is ours; otherwise any client could send a new forged address with every
 * request and never be limited.
 */
export function clientIp(request: RequestAddressInfo, trustProxy: TrustProxy = false): string | undefined {
  const peer = request.remoteAddress === undefined ? undefined : normalise(request.remoteAddress);
  if (trustProxy === false) return peer;
  const forwarded = (header(request.headers, 'x-forwarded-for') ?? '')
    .split(',')
    .map((entry) => normalise(entry))
    .filter((entry) => entry.length > 0);
  if (forwarded.length === 0) return peer;
  if (typeof trustProxy === 'number' || trustProxy === true) {
    // Each trusted hop appended the address it saw (nginx's $proxy_add_x_forwarded_for, AWS ALB), so
    // the client is the entry the outermost trusted hop appended; entries left of it are the client's own.
    const hops = trustProxy === true ? 1 : Math.max(0, Math.floor(trustProxy));
    if (hops === 0) return peer;
    return forwarded[Math.max(0, forwarded.length - hops)];
  }
  const trusted = (address: string | undefined) =>
    address !== undefined && trustProxy.some((rule) => matches(address, rule));
  if (!trusted(peer)) return peer;
  for (let i = forwarded.length - 1; i >= 0; i--) if (!trusted(forwarded[i])) return forwarded[i];
  return forwarded[0];
}
