/**
 * VetMed as a library, for tools that start it in-process (the load tester, benchmarks) and clients
 * that need its router type.
 */

export { demoCredentials } from './db/index.js';
export { type AppConfig, EnvError, loadEnv } from './env.js';
export type { AppRouter } from './routers/app-router.js';
export { createLogger } from './server/logger.js';
export { type RunningVetmed, type StartVetmedOptions, startVetmed } from './start-vetmed.js';
