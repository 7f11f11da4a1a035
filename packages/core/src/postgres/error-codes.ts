import { type Classification, rejected, transient } from './classification.js';

/**
 * Codes without a SQLSTATE: Node socket errors and postgres.js's own connection codes. A refused or
 * unresolvable connection applied nothing; a reset or closed one leaves the in-flight statement unknown.
 */
const codes: Readonly<Record<string, Classification>> = {
  ECONNREFUSED: transient('CONNECTION', 'connection-refused', true, 500),
  ECONNRESET: transient('CONNECTION', 'connection-reset', false, 200),
  EPIPE: transient('CONNECTION', 'connection-lost', false, 200),
  ETIMEDOUT: transient('CONNECTION', 'network-timeout', false, 500),
  ECONNABORTED: transient('CONNECTION', 'connection-lost', false, 200),
  EHOSTUNREACH: transient('CONNECTION', 'host-unreachable', true, 1000),
  ENETUNREACH: transient('CONNECTION', 'network-unreachable', true, 1000),
  ENETDOWN: transient('CONNECTION', 'network-unreachable', true, 1000),
  EAI_AGAIN: transient('CONNECTION', 'dns-failure', true, 1000),
  ENOTFOUND: transient('CONNECTION', 'dns-failure', true, 1000),
  UND_ERR_SOCKET: transient('CONNECTION', 'network-error', false, 500),
  UND_ERR_CONNECT_TIMEOUT: transient('CONNECTION', 'connect-timeout', true, 500),
  // postgres.js
  CONNECT_TIMEOUT: transient('CONNECTION', 'connect-timeout', true, 500),
  CONNECTION_CLOSED: transient('CONNECTION', 'connection-lost', false, 200),
  // We closed the client ourselves (shutting down): retrying cannot help.
  CONNECTION_ENDED: rejected('CONNECTION', 'client-closed'),
  CONNECTION_DESTROYED: rejected('CONNECTION', 'client-closed'),
};

export function classifyErrorCode(code: string): Classification | undefined {
  return codes[code];
}
