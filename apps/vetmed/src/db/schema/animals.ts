import { sql } from 'drizzle-orm';
import { check, date, index, numeric, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { households } from './households.js';

/** An animal in a household's care. `archivedAt` hides it without losing its dose history. */
export const animals = pgTable(
  'animals',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    householdId: uuid('household_id')
      .notNull()
      .references(() => households.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** Free text ('dog', 'cat', 'rabbit', ...): a template should not guess every species. */
    species: text('species').notNull(),
    breed: text('breed'),
    /** `YYYY-MM-DD` (a calendar date, no time zone). */
    birthDate: date('birth_date', { mode: 'string' }),
    /** Kilograms, as a decimal string (exact: doses are often computed per kg). */
    weightKg: numeric('weight_kg', { precision: 7, scale: 3 }),
    notes: text('notes'),
    archivedAt: timestamp('archived_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .defaultNow()
      .$onUpdate(() => new Date()),
  },
  (t) => [
    index('animals_household_id_idx').on(t.householdId),
    check('animals_weight_positive', sql`${t.weightKg} is null or ${t.weightKg} > 0`),
  ],
);

export type Animal = typeof animals.$inferSelect;
export type NewAnimal = typeof animals.$inferInsert;
