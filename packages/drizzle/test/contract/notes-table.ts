import { integer, pgTable, text } from 'drizzle-orm/pg-core';

/** The one table the contract suite reads and writes. */
export const notes = pgTable('notes', { id: integer('id').primaryKey(), body: text('body').notNull() });

export const createNotesTable =
  'create table if not exists notes (id integer primary key, body text not null); grant all on notes to public';
