import { relations } from 'drizzle-orm';
import { animals } from './animals.js';
import { households, memberships } from './households.js';
import { inventory, medications } from './medications.js';
import { administrations, regimens } from './regimens.js';
import { authTokens, users } from './users.js';

export const usersRelations = relations(users, ({ many }) => ({
  memberships: many(memberships),
  authTokens: many(authTokens),
}));

export const authTokensRelations = relations(authTokens, ({ one }) => ({
  user: one(users, { fields: [authTokens.userId], references: [users.id] }),
}));

export const householdsRelations = relations(households, ({ many }) => ({
  memberships: many(memberships),
  animals: many(animals),
  medications: many(medications),
  inventory: many(inventory),
}));

export const membershipsRelations = relations(memberships, ({ one }) => ({
  household: one(households, { fields: [memberships.householdId], references: [households.id] }),
  user: one(users, { fields: [memberships.userId], references: [users.id] }),
}));

export const animalsRelations = relations(animals, ({ one, many }) => ({
  household: one(households, { fields: [animals.householdId], references: [households.id] }),
  regimens: many(regimens),
  administrations: many(administrations),
}));

export const medicationsRelations = relations(medications, ({ one, many }) => ({
  household: one(households, { fields: [medications.householdId], references: [households.id] }),
  regimens: many(regimens),
  inventory: many(inventory),
}));

export const inventoryRelations = relations(inventory, ({ one }) => ({
  household: one(households, { fields: [inventory.householdId], references: [households.id] }),
  medication: one(medications, { fields: [inventory.medicationId], references: [medications.id] }),
}));

export const regimensRelations = relations(regimens, ({ one, many }) => ({
  animal: one(animals, { fields: [regimens.animalId], references: [animals.id] }),
  medication: one(medications, { fields: [regimens.medicationId], references: [medications.id] }),
  createdByUser: one(users, { fields: [regimens.createdBy], references: [users.id] }),
  administrations: many(administrations),
}));

export const administrationsRelations = relations(administrations, ({ one }) => ({
  regimen: one(regimens, { fields: [administrations.regimenId], references: [regimens.id] }),
  animal: one(animals, { fields: [administrations.animalId], references: [animals.id] }),
  recordedByUser: one(users, { fields: [administrations.recordedBy], references: [users.id] }),
}));
