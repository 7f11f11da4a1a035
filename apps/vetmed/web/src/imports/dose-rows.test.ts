import { describe, expect, it } from 'vitest';
import { readDoseRows } from './dose-rows.js';

const regimens = [
  { id: 'r-carprofen', animal: 'Biscuit', medication: 'Carprofen' },
  { id: 'r-methimazole', animal: 'Miso', medication: 'Methimazole' },
];

describe('readDoseRows', () => {
  it('matches rows to regimens by names, any case, and keeps the keys the file gives', async () => {
    const { rows, problems } = await readDoseRows(
      [
        'Recorded_At,ANIMAL,medication,dose_amount,dose_unit,notes,idempotency_key',
        '2026-11-30T08:00:00.000Z,biscuit,CARPROFEN,1,tablet,with food,key-0001',
        '2026-11-30T09:00:00.000Z,Miso,Methimazole,,,,',
      ].join('\n'),
      regimens,
    );
    expect(problems).toEqual([]);
    expect(rows[0]).toEqual({
      regimenId: 'r-carprofen',
      idempotencyKey: 'key-0001',
      recordedAt: new Date('2026-11-30T08:00:00.000Z'),
      doseAmount: '1',
      doseUnit: 'tablet',
      notes: 'with food',
    });
    expect(rows[1]).toMatchObject({
      regimenId: 'r-methimazole',
      idempotencyKey: expect.stringMatching(/^csv-[0-9a-f]{40}$/),
    });
    expect(rows[1]).not.toHaveProperty('doseAmount');
  });

  it('gives a row without a key the same key every time, and another row another key', async () => {
    const file = (notes: string) =>
      `recorded_at,animal,medication,notes\n2026-11-30T08:00:00Z,Biscuit,Carprofen,${notes}`;
    const [first, again, other] = await Promise.all([
      readDoseRows(file('a'), regimens),
      readDoseRows(file('a'), regimens),
      readDoseRows(file('b'), regimens),
    ]);
    expect(first.rows[0]!.idempotencyKey).toBe(again.rows[0]!.idempotencyKey);
    expect(first.rows[0]!.idempotencyKey).not.toBe(other.rows[0]!.idempotencyKey);
  });

  it('names the lines it cannot import, and refuses a file without the required columns', async () => {
    const { rows, problems } = await readDoseRows(
      'recorded_at,animal,medication\nyesterday,Biscuit,Carprofen\n2026-11-30T08:00:00Z,Rex,Carprofen',
      regimens,
    );
    expect(rows).toEqual([]);
    expect(problems).toEqual([
      'Line 2: "yesterday" is not a date and time.',
      'Line 3: no medication "Carprofen" prescribed for "Rex".',
    ]);
    expect((await readDoseRows('animal,notes\nBiscuit,x', regimens)).problems).toEqual([
      'The first row must name the columns; missing: recorded_at, medication.',
    ]);
  });
});
