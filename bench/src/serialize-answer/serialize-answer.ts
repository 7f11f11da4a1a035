/**
 * What writing a served answer costs: a page of 50 doses (the dose-history read's answer, 2 dates a
 * row) through `superjson.serialize` against the sample app's one-pass writer of the same format
 * (`serializeAnswer`), each followed by `JSON.stringify` as tRPC does, and `JSON.stringify` alone.
 *
 * Usage: pnpm bench:serialize [-- --rounds 5 --calls 3000]
 *
 * Rounds are interleaved and every round is printed: the machine is shared and noisy.
 */
import { serializeAnswer } from '@db-safeguards/vetmed/wire-transformer';
import superjson from 'superjson';
import { countOption } from '../cli-options.js';

const rounds = countOption('rounds', 5);
const calls = countOption('calls', 3000);

const id = (n: number) => `0190c1b2-7f4e-7a1b-9c3d-${String(n).padStart(12, '0')}`;
const page = {
  value: Array.from({ length: 50 }, (_, i) => ({
    id: id(i),
    regimenId: id(1000),
    animalId: id(2000),
    doseAmount: '2.50',
    doseUnit: 'ml',
    recordedBy: id(3000),
    recordedAt: new Date(1_700_000_000_000 + i * 3_600_000),
    notes: i % 3 === 0 ? 'given with food' : null,
    idempotencyKey: `key-${i}`,
    createdAt: new Date(1_700_000_000_000 + i * 3_600_000 + 1000),
  })),
  degraded: false,
};

/** Microseconds per call of `write` then `JSON.stringify`. */
function time(write: (value: unknown) => unknown): number {
  let length = 0;
  const started = performance.now();
  for (let i = 0; i < calls; i++) length += JSON.stringify(write(page)).length;
  if (length === 0) throw new Error('nothing written');
  return ((performance.now() - started) * 1000) / calls;
}

if (JSON.stringify(serializeAnswer(page).json) !== JSON.stringify(superjson.serialize(page).json))
  throw new Error('the writer and superjson disagree on this page');
time(superjson.serialize);
time(serializeAnswer);
console.log(`a page of 50 doses, ${calls} calls a round; µs per call`);
console.log('round | superjson + stringify | writer + stringify | stringify alone | writer / superjson');
for (let round = 1; round <= rounds; round++) {
  const slow = time((value) => superjson.serialize(value));
  const fast = time(serializeAnswer);
  const bare = time((value) => value);
  console.log(
    `${String(round).padStart(5)} | ${slow.toFixed(0).padStart(21)} | ${fast.toFixed(0).padStart(18)} | ${bare.toFixed(0).padStart(15)} | ${(fast / slow).toFixed(2)}`,
  );
}
