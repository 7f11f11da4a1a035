import { describe, expect, it } from 'vitest';
import { statementKind } from './statement-kind.js';

describe('statementKind', () => {
  it.each([
    'select 1',
    '  SELECT "id", "name" from "animals" where "household_id" = $1',
    '(select 1) union (select 2)',
    '-- comment\nselect 1',
    '/* hint */ select 1',
    'with recent as (select * from administrations) select count(*) from recent',
    'select "updated_at", "recorded_by" from "regimens"',
    'select pg_sleep(5)',
    'values (1), (2)',
    'show statement_timeout',
    'select 1;',
  ])('read: %s', (text) => {
    expect(statementKind(text)).toBe('read');
  });

  it.each([
    'insert into "users" ("email") values ($1)',
    'update "animals" set "notes" = $1',
    'delete from "auth_tokens" where "expires_at" < now()',
    'with moved as (delete from a returning *) select * from moved',
    'select * from "regimens" for update',
    'select * from "regimens" for no key update skip locked',
    'select * from inventory for share',
    'select * into backup from animals',
    "select nextval('seq')",
    'select 1; delete from users',
    'begin',
    'create table t (id int)',
    'explain analyze delete from t',
    '',
  ])('write: %s', (text) => {
    expect(statementKind(text)).toBe('write');
  });

  it('answers a text seen before the same way from its memory, and keeps at most 512 texts', () => {
    const write = 'insert into "doses" ("id") values ($1)';
    const read = 'select "id" from "doses" where "id" = $1';
    for (let round = 0; round < 3; round++) {
      expect(statementKind(write)).toBe('write');
      expect(statementKind(read)).toBe('read');
    }
    // 2 000 distinct texts (values spelled into the SQL): each still classified on its own.
    for (let i = 0; i < 2000; i++) {
      expect(statementKind(`select ${i}`)).toBe('read');
      expect(statementKind(`delete from t where id = ${i}`)).toBe('write');
    }
    expect(statementKind(write)).toBe('write');
  });
});
