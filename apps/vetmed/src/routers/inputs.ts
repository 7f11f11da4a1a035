import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { doseAmountScale } from '../db/index.js';

/** Input pieces shared by the routers. Every procedure validates its input with zod. */
export const id = z.uuid();
export const householdInput = z.object({ householdId: id });
export const animalInput = z.object({ animalId: id });
export const name = z.string().trim().min(1).max(120);
export const optionalText = (max: number) => z.string().trim().max(max).optional();
/**
 * The decimal places `text` needs, in plain or exponent notation, trailing zeros not counted (`'0.50'`:
 * 1, `'1.5e-3'`: 4, `'1500e-2'`: 0); undefined when `text` is not a decimal number.
 */
function decimalPlaces(text: string): number | undefined {
  const match = /^[+-]?(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/i.exec(text);
  if (!match) return undefined;
  let digits = `${match[1]}${match[2] ?? ''}`;
  if (digits === '') return undefined;
  let places = (match[2] ?? '').length - Number(match[3] ?? 0);
  while (places > 0 && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    places--;
  }
  return Math.max(0, places);
}

/**
 * A positive decimal amount for a `numeric(p, scale)` column, at most `max`. Amounts travel as strings
 * (numeric columns); numbers are accepted too. More than `scale` decimals is refused rather than
 * rounded: the column would store another amount than the one entered (0.33333 as 0.3333), and a
 * retry of the same request would no longer match what was stored.
 */
export const positiveDecimal = (scale: number, max: number) =>
  z.union([z.number(), z.string().trim()]).transform((value, context) => {
    const number = typeof value === 'number' ? value : Number(value);
    const places = decimalPlaces(typeof value === 'number' ? String(value) : value);
    if (places === undefined || !Number.isFinite(number) || number <= 0 || number > max) {
      context.addIssue({ code: 'custom', message: `Expected a positive amount of at most ${max}` });
      return z.NEVER;
    }
    if (places > scale) {
      context.addIssue({
        code: 'custom',
        message: `Expected at most ${scale} decimal places: the amount is stored with ${scale}`,
      });
      return z.NEVER;
    }
    return String(number);
  });
/**
 * A change of an amount (negative to take away), as a number, for a `numeric(p, scale)` column, at most
 * `maxAbs` either way; more than `scale` decimals is refused, as for {@link positiveDecimal}.
 */
export const signedDecimal = (scale: number, maxAbs: number) =>
  z
    .number()
    .finite()
    .min(-maxAbs)
    .max(maxAbs)
    .refine((value) => (decimalPlaces(String(value)) ?? Number.POSITIVE_INFINITY) <= scale, {
      message: `Expected at most ${scale} decimal places: the amount is stored with ${scale}`,
    });
/** A dose or strength: `numeric(12, 4)`. */
export const positiveAmount = positiveDecimal(doseAmountScale, 1_000_000);
export const unit = z.string().trim().min(1).max(20);
/** 8–200 characters chosen by the client once per action and reused on every retry. */
export const idempotencyKey = z.string().trim().min(8).max(200);
export const isoDate = z.iso.date();

/** How far ahead of the server's clock a client's clock may be: a dose "now" on a fast phone. */
export const doseClockSkewMs = 5 * 60_000;

/**
 * When a dose was given: never in the future (beyond the clock skew), or it would count as taken in
 * adherence reports before it happened. Not before its regimen's start either: checked with the
 * regimen, see {@link beforeRegimenStart}.
 */
export const doseTime = z.date().refine((value) => value.getTime() <= Date.now() + doseClockSkewMs, {
  message: 'A dose cannot be recorded in the future.',
});

/** The refusal of a dose dated before its regimen started, or undefined when it is not. */
export function beforeRegimenStart(recordedAt: Date | undefined, startsAt: Date): TRPCError | undefined {
  if (recordedAt === undefined || recordedAt.getTime() >= startsAt.getTime()) return undefined;
  return new TRPCError({
    code: 'BAD_REQUEST',
    message: `A dose cannot be dated before its regimen started (${startsAt.toISOString()}).`,
  });
}
export const pageLimit = z.number().int().min(1).max(200).default(50);
