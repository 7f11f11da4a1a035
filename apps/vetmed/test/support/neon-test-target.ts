import {
  configureNeonForLocalProxy,
  type NeonLocalProxyConfig,
  type NeonWsProxy,
  startNeonWsProxy,
  startTestPostgres,
  type TestPostgres,
} from '@db-safeguards/test-postgres';
import type { NeonSettings } from '../../src/db/index.js';

/**
 * A throwaway PostgreSQL (the app role limited to 8 connections) that Neon's WebSocket driver reaches
 * through our ws-to-TCP proxy. `neonConfig` is handed to the app, which applies it to the driver.
 */
export interface NeonTestTarget {
  server: TestPostgres;
  proxy: NeonWsProxy;
  neonConfig: NeonLocalProxyConfig & NeonSettings;
  stop(): Promise<void>;
}

export async function startNeonTestTarget(): Promise<NeonTestTarget> {
  const server = await startTestPostgres({ appRoleConnectionLimit: 8 });
  const proxy = await startNeonWsProxy();
  const neonConfig = {} as NeonLocalProxyConfig & NeonSettings;
  configureNeonForLocalProxy(neonConfig, proxy);
  return {
    server,
    proxy,
    neonConfig,
    async stop() {
      await proxy.close();
      await server.stop();
    },
  };
}
