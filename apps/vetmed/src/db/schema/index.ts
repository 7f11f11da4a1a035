/**
 * The vetmed schema: tables, enums, relations (for `db.query.*`) and row types. Drizzle-kit reads this
 * file to generate migrations into `drizzle/`.
 */
export * from './animals.js';
export * from './households.js';
export * from './invitations.js';
export * from './medications.js';
export * from './regimens.js';
export * from './relations.js';
export * from './users.js';
