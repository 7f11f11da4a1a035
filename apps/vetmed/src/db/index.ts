/**
 * The vetmed database layer: `createDatabase` (PGlite, postgres.js or Neon, chosen by configuration),
 * the schema and its row types, and the services the routers call. Every query made through
 * `Database.db` runs under the safeguards. The public API is this list.
 */

export {
  isTransactionMisuseError,
  type StatementKind,
  statementKind,
  TransactionMisuseError,
} from '@db-safeguards/drizzle';
export { hashPassword, verifyPassword } from './auth/password.js';
export { createBearerToken, hashBearerToken } from './auth/tokens.js';
export { createDatabase } from './create-database.js';
export type { AppDatabase, AppTransaction, Database, Schema } from './database.js';
export type { DatabaseConfig, DatabaseConfigInput, DriverName } from './database-config.js';
export {
  DatabaseConfigError,
  defaultPgliteDataDir,
  defaultStatementTimeoutMs,
  directNeonUrl,
  driverNames,
  inMemoryPglite,
  isNeonUrl,
  isPooledUrl,
  redactUrl,
  resolveDatabaseConfig,
} from './database-config.js';
export type { CreateDatabaseOptions, NeonSettings } from './driver-options.js';
export { defaultMigrationsFolder } from './driver-options.js';
export { isMigrationOrderError, MigrationOrderError } from './safeguarded/migration-order.js';
export type {
  Administration,
  Animal,
  AuthToken,
  Household,
  HouseholdInvitation,
  InventoryItem,
  Medication,
  MedicationForm,
  Membership,
  MembershipRole,
  NewAdministration,
  NewAnimal,
  NewAuthToken,
  NewHousehold,
  NewInventoryItem,
  NewMedication,
  NewMembership,
  NewRegimen,
  NewUser,
  Regimen,
  ScheduleKind,
  User,
} from './schema/index.js';
export * as schema from './schema/index.js';
export {
  administrations,
  animals,
  authTokens,
  doseAmountScale,
  householdInvitations,
  households,
  inventory,
  medicationForm,
  medications,
  membershipRole,
  memberships,
  regimens,
  scheduleKind,
  stockScale,
  users,
} from './schema/index.js';
export type { SeedResult } from './seed.js';
export { demoCredentials, demoIds, seedDemoData } from './seed.js';
export type {
  DoseContent,
  DoseRegimen,
  RecordDoseInput,
  RecordDoseResult,
} from './services/administrations.js';
export { idempotencyKeyReused, isSameDose, listDoses, recordDose } from './services/administrations.js';
export { createHousehold, getMembershipRole, listHouseholdsOfUser } from './services/households.js';
export type { PublicUser, SignInResult } from './services/users.js';
export {
  authenticate,
  authenticateSession,
  createUser,
  defaultTokenTtlMs,
  deleteStaleTokens,
  issueToken,
  normaliseEmail,
  revokeToken,
  signIn,
} from './services/users.js';
