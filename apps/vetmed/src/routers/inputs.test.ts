import { describe, expect, it } from 'vitest';
import { doseAmountScale, stockScale } from '../db/index.js';
import { positiveAmount, positiveDecimal, signedDecimal } from './inputs.js';

describe('positiveAmount', () => {
  const parse = (value: unknown) => positiveAmount.safeParse(value);

  it('accepts up to 4 decimal places, trailing zeros and exponents included, as the stored string', () => {
    expect(['0.3333', 0.3333, '0.33330', '1.5e-3', 2, ' 12.5 ', '1500e-2'].map((v) => parse(v).data)).toEqual(
      ['0.3333', '0.3333', '0.3333', '0.0015', '2', '12.5', '15'],
    );
  });

  it('refuses a fifth decimal place instead of letting the column round it away', () => {
    for (const value of ['0.33333', 0.33333, '1.00001', 1e-7, 0.1 + 0.2, '0.00005']) {
      const result = parse(value);
      expect(result.success, String(value)).toBe(false);
      expect(result.error?.issues[0]?.message).toBe(
        'Expected at most 4 decimal places: the amount is stored with 4',
      );
    }
  });

  it('refuses what is not a positive amount within bounds', () => {
    for (const value of [
      'lots',
      '',
      '0x10',
      '-1',
      0,
      -2,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '1000000.5',
      '.',
    ])
      expect(parse(value).success, String(value)).toBe(false);
  });

  it('takes the scale and the bound of its column', () => {
    const weight = positiveDecimal(3, 9_999.999);
    expect(weight.safeParse('21.125').data).toBe('21.125');
    expect(weight.safeParse('21.1255').success).toBe(false);
    expect(weight.safeParse(10_000).success).toBe(false);
  });
});

describe('signedDecimal (a stock adjustment)', () => {
  const delta = signedDecimal(stockScale, 1_000_000);

  it('accepts additions and removals with up to the stock scale of decimals', () => {
    expect([5, -2.5, 0.3333, -0.0001].map((v) => delta.safeParse(v).data)).toEqual([
      5, -2.5, 0.3333, -0.0001,
    ]);
  });

  it('refuses more decimals than stock keeps, and out-of-range or non-finite numbers', () => {
    for (const value of [0.33333, -1e-7, 0.1 + 0.2, 1_000_001, Number.NaN, Number.POSITIVE_INFINITY])
      expect(delta.safeParse(value).success, String(value)).toBe(false);
  });

  it('stock keeps at least the decimals of a dose, so a dose draws exactly its amount', () => {
    expect(stockScale).toBeGreaterThanOrEqual(doseAmountScale);
  });
});
