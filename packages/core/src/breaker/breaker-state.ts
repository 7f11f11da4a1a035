/** The states of a breaker. ISOLATED is held open by hand until every isolation is disposed. */
export const BreakerState = {
  CLOSED: 'CLOSED',
  OPEN: 'OPEN',
  HALF_OPEN: 'HALF_OPEN',
  ISOLATED: 'ISOLATED',
} as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];
