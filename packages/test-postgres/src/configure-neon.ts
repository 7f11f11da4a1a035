import { WebSocket } from 'ws';

/**
 * The fields of `neonConfig` from `@neondatabase/serverless` (the global one or a `Client`'s own) that
 * {@link configureNeonForLocalProxy} sets. Structural, so this package needs no runtime dependency on the
 * Neon driver.
 */
export interface NeonLocalProxyConfig {
  webSocketConstructor: unknown;
  wsProxy: string | ((host: string, port: number | string) => string);
  useSecureWebSocket: boolean;
  pipelineTLS: boolean;
  pipelineConnect: 'password' | false;
}

/**
 * Points Neon's WebSocket driver at a {@link startNeonWsProxy} proxy: `ws` as the WebSocket class (Node
 * 20 has none built in), plain `ws://`, no TLS pipelining, and no connect pipelining (which only works
 * when the server asks for a cleartext password, so it would break with `authMethod: 'scram-sha-256'`).
 *
 * `neonConfig` is global: set it once per test file, before the first `Pool` connects.
 *
 * @param neonConfig - `neonConfig` imported from `@neondatabase/serverless`.
 * @param proxy - the running proxy, or its port.
 */
export function configureNeonForLocalProxy(
  neonConfig: NeonLocalProxyConfig,
  proxy: { port: number } | number,
): void {
  const port = typeof proxy === 'number' ? proxy : proxy.port;
  neonConfig.webSocketConstructor = WebSocket;
  neonConfig.wsProxy = (host, targetPort) => `127.0.0.1:${port}/v2?address=${host}:${targetPort}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
}
