import { sql } from 'drizzle-orm';
import {
  check,
  index,
  numeric,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { households } from './households.js';

export const medicationForm = pgEnum('medication_form', [
  'tablet',
  'capsule',
  'liquid',
  'injection',
  'topical',
  'drops',
  'powder',
  'other',
]);
export type MedicationForm = (typeof medicationForm.enumValues)[number];

/**
 * A medication product. `householdId` null: a global catalogue entry every household can use (seeded,
 * read-only for users); otherwise a household's own entry, visible to its members only. The same
 * product cannot be listed twice in one scope (nulls compare equal in the unique constraint).
 */
export const medications = pgTable(
  'medications',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    householdId: uuid('household_id').references(() => households.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    form: medicationForm('form').notNull(),
    /** Amount of active ingredient per unit of the product, e.g. 50 (mg per tablet) or 2.5 (mg/ml). */
    strength: numeric('strength', { precision: 12, scale: 4 }),
    /** Unit of `strength`, e.g. 'mg', 'mg/ml', 'IU/ml'. */
    strengthUnit: text('strength_unit'),
    notes: text('notes'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique('medications_scope_product_unique')
      .on(t.householdId, t.name, t.form, t.strength, t.strengthUnit)
      .nullsNotDistinct(),
    index('medications_household_id_idx').on(t.householdId),
    check('medications_strength_with_unit', sql`(${t.strength} is null) = (${t.strengthUnit} is null)`),
    check('medications_strength_positive', sql`${t.strength} is null or ${t.strength} > 0`),
  ],
);

/**
 * Decimal places stock is counted with: at least a dose's (`doseAmountScale`), so that a recorded dose
 * draws exactly its amount and repeated doses add up without rounding.
 */
export const stockScale = 4;

/** Stock of one medication in one household. */
export const inventory = pgTable(
  'inventory',
  {
    householdId: uuid('household_id')
      .notNull()
      .references(() => households.id, { onDelete: 'cascade' }),
    medicationId: uuid('medication_id')
      .notNull()
      .references(() => medications.id, { onDelete: 'cascade' }),
    quantityOnHand: numeric('quantity_on_hand', { precision: 13, scale: stockScale }).notNull().default('0'),
    /** Unit the stock is counted in ('tablet', 'ml', ...); a recorded dose in the same unit draws it down. */
    unit: text('unit').notNull(),
    /** Below this, the app may warn that stock runs low. */
    lowStockThreshold: numeric('low_stock_threshold', { precision: 13, scale: stockScale }),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .defaultNow()
      .$onUpdate(() => new Date()),
  },
  (t) => [
    primaryKey({ name: 'inventory_pkey', columns: [t.householdId, t.medicationId] }),
    index('inventory_medication_id_idx').on(t.medicationId),
    check('inventory_quantity_non_negative', sql`${t.quantityOnHand} >= 0`),
  ],
);

export type Medication = typeof medications.$inferSelect;
export type NewMedication = typeof medications.$inferInsert;
export type InventoryItem = typeof inventory.$inferSelect;
export type NewInventoryItem = typeof inventory.$inferInsert;
