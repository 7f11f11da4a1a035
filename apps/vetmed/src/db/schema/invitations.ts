import { sql } from 'drizzle-orm';
import { check, index, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { households, membershipRole } from './households.js';
import { users } from './users.js';

/**
 * An owner's invitation of an email address into a household, pending until the person who signs
 * in with that address accepts (membership needs their consent) or declines it. Whether the address
 * has an account is never told to the owner: the invitation is stored the same way either way.
 */
export const householdInvitations = pgTable(
  'household_invitations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    householdId: uuid('household_id')
      .notNull()
      .references(() => households.id, { onDelete: 'cascade' }),
    /** Lower-cased, as `users.email`. */
    email: text('email').notNull(),
    role: membershipRole('role').notNull(),
    invitedBy: uuid('invited_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    unique('household_invitations_household_email_unique').on(t.householdId, t.email),
    index('household_invitations_email_idx').on(t.email),
    check('household_invitations_email_lowercase', sql`${t.email} = lower(${t.email})`),
  ],
);

export type HouseholdInvitation = typeof householdInvitations.$inferSelect;
