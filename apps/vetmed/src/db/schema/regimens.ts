import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  foreignKey,
  index,
  integer,
  numeric,
  pgEnum,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from 'drizzle-orm/pg-core';
import { animals } from './animals.js';
import { medications } from './medications.js';
import { users } from './users.js';

/**
 * How a regimen repeats: `times_per_day` (with `timesPerDay`), `interval_hours` (with `intervalHours`),
 * `cron` (with `scheduleCron`, a 5-field cron expression kept as text for the app to interpret) or
 * `as_needed` (no schedule).
 */
export const scheduleKind = pgEnum('schedule_kind', ['times_per_day', 'interval_hours', 'cron', 'as_needed']);
export type ScheduleKind = (typeof scheduleKind.enumValues)[number];

/** Decimal places a dose amount is stored with (`numeric(12, 4)`): what a retry is compared at. */
export const doseAmountScale = 4;

/** A prescription: give `doseAmount doseUnit` of a medication to an animal on a schedule. */
export const regimens = pgTable(
  'regimens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    animalId: uuid('animal_id')
      .notNull()
      .references(() => animals.id, { onDelete: 'cascade' }),
    medicationId: uuid('medication_id')
      .notNull()
      .references(() => medications.id, { onDelete: 'restrict' }),
    doseAmount: numeric('dose_amount', { precision: 12, scale: doseAmountScale }).notNull(),
    /** 'tablet', 'ml', 'mg', 'drop', ... */
    doseUnit: text('dose_unit').notNull(),
    scheduleKind: scheduleKind('schedule_kind').notNull(),
    timesPerDay: integer('times_per_day'),
    intervalHours: integer('interval_hours'),
    scheduleCron: text('schedule_cron'),
    instructions: text('instructions'),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull().defaultNow(),
    endsAt: timestamp('ends_at', { withTimezone: true }),
    active: boolean('active').notNull().default(true),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true })
      .notNull()
      .defaultNow()
      .$onUpdate(() => new Date()),
  },
  (t) => [
    // Target of administrations' (regimen_id, animal_id) foreign key: a dose is always for the
    // regimen's own animal.
    unique('regimens_id_animal_id_unique').on(t.id, t.animalId),
    index('regimens_animal_id_active_idx').on(t.animalId).where(sql`${t.active}`),
    index('regimens_medication_id_idx').on(t.medicationId),
    check('regimens_dose_positive', sql`${t.doseAmount} > 0`),
    check('regimens_ends_after_start', sql`${t.endsAt} is null or ${t.endsAt} > ${t.startsAt}`),
    check(
      'regimens_schedule_consistent',
      sql`case ${t.scheduleKind}
        when 'times_per_day' then ${t.timesPerDay} between 1 and 24
        when 'interval_hours' then ${t.intervalHours} between 1 and 8760
        when 'cron' then ${t.scheduleCron} is not null and length(${t.scheduleCron}) between 9 and 200
        else true end`,
    ),
  ],
);

/**
 * A dose that was given. `idempotencyKey` is chosen by the client once per dose (e.g. a UUID made when
 * the caregiver taps "given"): a retried request inserts nothing new, so a dose is never doubled.
 *
 * The key is unique per regimen, not across the whole database: a retry always names the same
 * regimen, so that is enough to never double a dose, and a regimen belongs to one household, so one
 * household's keys can neither block another's writes nor reveal that they exist.
 */
export const administrations = pgTable(
  'administrations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    regimenId: uuid('regimen_id').notNull(),
    animalId: uuid('animal_id')
      .notNull()
      .references(() => animals.id, { onDelete: 'cascade' }),
    doseAmount: numeric('dose_amount', { precision: 12, scale: doseAmountScale }).notNull(),
    doseUnit: text('dose_unit').notNull(),
    recordedBy: uuid('recorded_by').references(() => users.id, { onDelete: 'set null' }),
    /** When the dose was given (may be back-dated); `createdAt` is when it was recorded. */
    recordedAt: timestamp('recorded_at', { withTimezone: true }).notNull().defaultNow(),
    notes: text('notes'),
    idempotencyKey: text('idempotency_key').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique('administrations_regimen_id_idempotency_key_unique').on(t.regimenId, t.idempotencyKey),
    // Dose history outlives a regimen's end: deactivate a regimen instead of deleting it.
    foreignKey({
      name: 'administrations_regimen_animal_fk',
      columns: [t.regimenId, t.animalId],
      foreignColumns: [regimens.id, regimens.animalId],
    }).onDelete('restrict'),
    index('administrations_animal_id_recorded_at_idx').on(t.animalId, t.recordedAt.desc()),
    index('administrations_regimen_id_recorded_at_idx').on(t.regimenId, t.recordedAt.desc()),
    check('administrations_dose_positive', sql`${t.doseAmount} > 0`),
    check('administrations_idempotency_key_length', sql`length(${t.idempotencyKey}) between 8 and 200`),
  ],
);

export type Regimen = typeof regimens.$inferSelect;
export type NewRegimen = typeof regimens.$inferInsert;
export type Administration = typeof administrations.$inferSelect;
export type NewAdministration = typeof administrations.$inferInsert;
