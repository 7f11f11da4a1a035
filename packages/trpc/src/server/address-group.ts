/**
 * The address a client is rate limited by: an IPv4 address itself, an IPv6 address its /64 network
 * (`2001:db8:1:2::/64`). One IPv6 subscriber is usually given a whole /64, so limits per address
 * would let it take a fresh address for every request and never be limited. Anything that is not an
 * IP address (a platform's own client id) is returned as it is.
 */
export function addressGroup(address: string): string {
  if (!address.includes(':')) return address;
  const hextets = ipv6Hextets(address);
  if (hextets === undefined) return address;
  return `${hextets
    .slice(0, 4)
    .map((part) => part.toString(16))
    .join(':')}::/64`;
}

/** @internal The eight 16-bit groups of an IPv6 address (a zone is ignored); undefined if it is not one. */
export function ipv6Hextets(address: string): number[] | undefined {
  let text = address.trim().toLowerCase();
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) takes the last two hextets.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const parts = tail.split('.').map(Number);
    if (parts.length !== 4 || parts.some((part) => !(part >= 0 && part <= 255))) return undefined;
    const high = ((parts[0]! << 8) | parts[1]!).toString(16);
    const low = ((parts[2]! << 8) | parts[3]!).toString(16);
    text = `${text.slice(0, lastColon + 1)}${high}:${low}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const rest = halves.length === 2 ? (halves[1] === '' ? [] : halves[1]!.split(':')) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const hextets = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  if (hextets.some((part) => !/^[0-9a-f]{1,4}$/.test(part))) return undefined;
  return hextets.map((part) => Number.parseInt(part, 16));
}
