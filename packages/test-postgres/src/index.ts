/**
 * Test infrastructure for db-safeguards: a throwaway real PostgreSQL with a connection-limited app role,
 * a WebSocket proxy for Neon's driver, and a TCP proxy for fault injection.
 */
export { BinariesUnreachableError } from './binaries-unreachable-error.js';
export { configureNeonForLocalProxy, type NeonLocalProxyConfig } from './configure-neon.js';
export {
  type ConnectionSample,
  type ConnectionSampler,
  startConnectionSampler,
} from './connection-sampler.js';
export {
  type FaultProxy,
  type FaultProxyOptions,
  type FaultProxyStats,
  startFaultProxy,
} from './fault-proxy.js';
export { freePort } from './free-port.js';
export {
  type NeonWsProxy,
  type NeonWsProxyOptions,
  type NeonWsProxyStats,
  startNeonWsProxy,
} from './neon-ws-proxy.js';
export {
  isProcessAlive,
  type OrphanSweepSpec,
  readPidFile,
  sweepOrphanDirectories,
  writeOwnerFile,
} from './orphan-directories.js';
export {
  isServerControlUnsupportedError,
  ServerControlUnsupportedError,
} from './server-control-unsupported-error.js';
export {
  type AuthMethod,
  type StartTestPostgresOptions,
  startTestPostgres,
  type TestPostgres,
  type WaitForAppConnectionsOptions,
} from './start-test-postgres.js';
