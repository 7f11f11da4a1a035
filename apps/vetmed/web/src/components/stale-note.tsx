import { formatTime } from '../format.js';

/** What a degradable read answers (the server's `MaybeStale<T>`), as far as this note needs it. */
export interface MaybeStaleAnswer {
  degraded: boolean;
  asOf?: Date;
}

/**
 * "Showing data from 14:02": beside a list the server answered from its last good copy while the
 * database was unavailable. Nothing when the answer is fresh.
 */
export function StaleNote({ answer }: { answer: MaybeStaleAnswer }) {
  if (!answer.degraded) return null;
  return (
    <p className="stale-note" role="status">
      {answer.asOf
        ? `Showing data from ${formatTime(answer.asOf)}: it may be out of date until VetMed can reach its database again.`
        : 'Showing saved data: it may be out of date.'}
    </p>
  );
}
