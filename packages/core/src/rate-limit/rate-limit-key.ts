import type { RequestIdentity } from '../operation-context.js';

const maxPartLength = 128;

/** 64 bits of FNV-1a in two 32-bit halves: enough to keep long keys apart without a crypto dependency. */
function hash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0xcbf29ce4;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193) >>> 0;
    b = Math.imul(b ^ code, 0x0100019d) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}

/** Keeps keys short whatever a client sends: long parts become a prefix plus a hash of the whole. */
function normalise(part: string | number): string {
  const text = String(part);
  return text.length <= maxPartLength ? text : `${text.slice(0, 32)}#${hash(text)}`;
}

/**
 * The rate-limit key for a request: the most specific identity wins (user, then tenant, then IP),
 * and requests with none share one anonymous key. Keys are namespaced by policy.
 */
export function rateLimitKey(policy: string, identity: RequestIdentity): string {
  if (identity.userId !== undefined && identity.userId !== '')
    return `${policy}|user:${normalise(identity.userId)}`;
  if (identity.tenantId !== undefined && identity.tenantId !== '') {
    return `${policy}|tenant:${normalise(identity.tenantId)}`;
  }
  if (identity.ip !== undefined && identity.ip !== '') return `${policy}|ip:${normalise(identity.ip)}`;
  return `${policy}|anonymous`;
}
