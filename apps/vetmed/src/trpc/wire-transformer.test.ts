import fc from 'fast-check';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { serializeAnswer } from './wire-transformer.js';

/** Keys as answers have them, and the ones superjson must escape or refuses. */
const key = fc.oneof(
  fc.constantFrom('id', 'recordedAt', 'a.b', 'back\\slash', '0', '12', '', 'x.', '.y'),
  fc.string({ maxLength: 6 }),
);
const leaf = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.integer(),
  fc.double(),
  fc.date(),
  fc.bigInt(),
);
const tree = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('node'), { maxLength: 5 }),
  object: fc.dictionary(key, tie('node'), { maxKeys: 5 }),
})).node;

function holdsInvalidDate(value: unknown): boolean {
  if (value instanceof Date) return Number.isNaN(value.getTime());
  if (value === null || typeof value !== 'object') return false;
  return Object.values(value).some(holdsInvalidDate);
}

function withInvalidDatesAsNull(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (Array.isArray(value)) return value.map(withInvalidDatesAsNull);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withInvalidDatesAsNull(v)]));
}

describe('serializeAnswer', () => {
  it('gives what superjson.serialize gives, and superjson reads it back (property)', () => {
    fc.assert(
      fc.property(tree, (value) => {
        const fast = serializeAnswer(value);
        // The same JSON and the same annotations (their key order may differ: superjson's follows
        // how it builds them level by level, and no reader depends on it).
        expect(JSON.parse(JSON.stringify(fast))).toEqual(
          JSON.parse(JSON.stringify(superjson.serialize(value))),
        );
        expect(JSON.stringify(fast.json)).toBe(JSON.stringify(superjson.serialize(value).json));
        // Read back, it is the value itself, except where superjson itself loses it: an invalid
        // Date is written as a bare null (fast-check 4 generates them).
        const readBack = superjson.deserialize(JSON.parse(JSON.stringify(fast)));
        expect(readBack).toEqual(holdsInvalidDate(value) ? withInvalidDatesAsNull(value) : value);
      }),
      { numRuns: 2000 },
    );
  });

  it('writes a page of dose rows in one pass, dates annotated as superjson does', () => {
    const rows = Array.from({ length: 3 }, (_, i) => ({
      id: `dose-${i}`,
      recordedAt: new Date(Date.UTC(2026, 0, 1 + i)),
      notes: i === 1 ? null : 'ok',
      extra: undefined,
    }));
    const answer = { items: rows, nextCursor: undefined };
    expect(serializeAnswer(answer)).toEqual(superjson.serialize(answer));
    expect(serializeAnswer(answer).meta?.values).toMatchObject({ 'items.0.recordedAt': ['Date'] });
  });

  it('leaves what it does not write itself to superjson: shared objects, maps, class instances, odd numbers', () => {
    const shared = { n: 1 };
    const when = new Date(0);
    class Dose {
      constructor(readonly amount: number) {}
    }
    for (const value of [
      { a: shared, b: shared },
      { a: when, b: when },
      { map: new Map([['k', 1]]) },
      { set: new Set([1]) },
      [new Dose(2)],
      { n: Number.NaN, m: -0, i: Number.POSITIVE_INFINITY },
      { re: /x/ },
      { big: 10n },
      // biome-ignore lint/suspicious/noSparseArray: a hole, as superjson treats it
      [, 1],
      new Date(Number.NaN),
      undefined,
    ]) {
      expect(JSON.stringify(serializeAnswer(value))).toBe(JSON.stringify(superjson.serialize(value)));
    }
  });

  it('refuses a __proto__ key as superjson does', () => {
    const value = JSON.parse('{"__proto__": {"x": 1}}') as unknown;
    expect(() => serializeAnswer(value)).toThrow(/prototype pollution/);
  });
});
