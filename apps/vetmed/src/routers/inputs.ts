import { z } from 'zod';

/** Input pieces shared by the routers. Every procedure validates its input with zod. */
export const id = z.uuid();
export const householdInput = z.object({ householdId: id });
export const animalInput = z.object({ animalId: id });
export const name = z.string().trim().min(1).max(120);
export const optionalText = (max: number) => z.string().trim().max(max).optional();
/** Decimal amounts travel as strings (numeric columns); accept numbers too. */
export const positiveAmount = z.union([z.number(), z.string().trim()]).transform((value, context) => {
  const number = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(number) || number <= 0 || number > 1_000_000) {
    context.addIssue({ code: 'custom', message: 'Expected a positive amount' });
    return z.NEVER;
  }
  return String(number);
});
export const unit = z.string().trim().min(1).max(20);
/** 8–200 characters chosen by the client once per action and reused on every retry. */
export const idempotencyKey = z.string().trim().min(8).max(200);
export const isoDate = z.iso.date();
export const pageLimit = z.number().int().min(1).max(200).default(50);
