/**
 * The sample app's rate-limit variables set far above any offered load, so that what a run measures
 * is the connection budget and the app's CPU, not its per-user limits.
 */
export const unlimitedRateLimitsEnv: Readonly<Record<string, string>> = Object.fromEntries(
  ['API', 'AUTH', 'HEAVY', 'RECORDING', 'UPLOAD', 'REPORTS', 'TOKEN'].map((policy) => [
    `RATE_LIMIT_${policy}_MAX`,
    '100000000',
  ]),
);
