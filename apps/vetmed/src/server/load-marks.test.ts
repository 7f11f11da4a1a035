import { describe, expect, it } from 'vitest';
import { parseLoadMarks } from './load-marks.js';

describe('parseLoadMarks (LOAD_* variables)', () => {
  it('reads PRIORITY=number pairs, scaled, and off', () => {
    expect(parseLoadMarks('LOW=50,NORMAL=200,HIGH=1000')).toEqual({ LOW: 50, NORMAL: 200, HIGH: 1000 });
    expect(parseLoadMarks(' batch = 0.9 ')).toEqual({ BATCH: 0.9 });
    expect(parseLoadMarks('LOW=768,HIGH=1024', 1024 * 1024)).toEqual({
      LOW: 768 * 1024 * 1024,
      HIGH: 1024 * 1024 * 1024,
    });
    expect(parseLoadMarks('OFF')).toBe(false);
  });

  it('refuses what it cannot use', () => {
    for (const bad of [
      '',
      '50,200',
      'CRITICAL=10',
      'LOW=0',
      'LOW=-5',
      'LOW=1,LOW=2',
      'NORMAL=100,LOW=200',
      'LOW=abc',
    ])
      expect(parseLoadMarks(bad), bad).toBeUndefined();
  });
});
