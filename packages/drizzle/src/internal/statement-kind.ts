/** What a statement does to the database, as far as the safeguards need to know. */
export type StatementKind = 'read' | 'write';

const leadingNoise = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/|\()+/;
const readOnlyStart = /^(?:select|with|table|values|show)\b/i;
// Anything that can change data or take row locks. Matching inside a string literal or an identifier
// only makes a read look like a write, which is the safe mistake: a write is never retried after an
// ambiguous failure and is refused in read-only mode, while a write taken for a read could be rerun.
const writeMarker =
  /\b(?:insert|update|delete|merge|into|truncate|copy|call|nextval|setval|lock|for\s+(?:no\s+key\s+)?update|for\s+(?:key\s+)?share)\b/i;
const secondStatement = /;\s*\S/;

/**
 * Classifies SQL text: `'read'` for a SELECT (or WITH … SELECT, TABLE, VALUES, SHOW) that has no
 * data-modifying clause, row lock or second statement; `'write'` for everything else. A SELECT that
 * calls a function with side effects cannot be recognised from its text: run such calls in
 * `db.transaction`, which always counts as a write.
 */
export function statementKind(text: string): StatementKind {
  const known = knownKinds.get(text);
  if (known !== undefined) return known;
  const kind = classify(text);
  // An app sends the same few statement texts over and over (parameters travel apart), and the
  // patterns above scan the whole text: a served call's two statements spent ~18 µs here. Bounded, in
  // case texts are built with values in them: the oldest goes first.
  if (knownKinds.size >= maxKnownKinds) knownKinds.delete(knownKinds.keys().next().value as string);
  knownKinds.set(text, kind);
  return kind;
}

/** Statement texts classified lately, and how many are kept. */
const knownKinds = new Map<string, StatementKind>();
const maxKnownKinds = 512;

function classify(text: string): StatementKind {
  const body = text.replace(leadingNoise, '');
  if (!readOnlyStart.test(body)) return 'write';
  if (writeMarker.test(body) || secondStatement.test(body)) return 'write';
  return 'read';
}
