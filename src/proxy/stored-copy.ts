/**
 * Both engines' refusal of a statement that would store a masked column's values where other sessions
 * read them unmasked (`maskedCopy` in policy): each write lineage reports for the statement is judged
 * before the statement is sent, and the first copy becomes the denial the client sees.
 */
import {
  CHECKED,
  CONDITION,
  FAILS,
  DELAY,
  ORDER,
  maskedCopy,
  ROW_COUNT,
  SERVER_FILE,
  SHARED_BY,
  UNRESOLVED_SCHEMA,
  type ColumnMatch,
  type MaskedCopy,
  type MaskingRule,
  type Decision,
  type StoredWrite,
} from '../policy/index.js'

/**
 * Operation kinds of statements that may store rows computed from other columns, or choose rows by
 * conditions (a SELECT, DELETE, EXPLAIN or PREPARE of one, MySQL's `SET @v = (SELECT ...)`; `other` is
 * DECLARE CURSOR among others).
 */
const JUDGED_KINDS = new Set([
  'create',
  'insert',
  'update',
  'merge',
  'alter',
  'copy',
  'select',
  'delete',
  'explain',
  'prepare',
  'set',
  'other',
])

/**
 * True when a decided statement is judged before it is sent: it may store rows computed from other
 * columns (writing a file of the server's, COPY TO or MySQL `INTO OUTFILE`, is a `copy`), or choose
 * rows by conditions on them (`CONDITION`). So may any function it calls: a built-in that keeps its
 * argument (`setval`, `pg_notify`), or a user's function or procedure, which only the catalog tells from
 * a built-in (lineage asks it).
 */
export function judgedBeforeSent(decision: Decision | undefined): boolean {
  if (decision === undefined) return false
  return decision.operations.some(
    (o) => JUDGED_KINDS.has(o.kind) || o.kind === 'call' || o.functions.length > 0,
  )
}

/** Effects of what decides a statement's rows, their order or whether it fails (judged as conditions). */
const DECIDING: ReadonlySet<string> = new Set([CONDITION, ORDER, FAILS, CHECKED])

/** Why a statement is refused: the masking rule its copy would escape, and what the client is told. */
export interface StoredCopy {
  readonly rule: string
  readonly message: string
}

/** The glob of the taint that masks every column once code the proxy cannot see ran (both engines). */
export const EVERY_COLUMN = '*.*.*'

/** How a session's writes can be judged. */
export interface StoreJudging {
  readonly dialect: 'postgres' | 'mysql'
  /** The catalog the statement will see is not known (DDL earlier in the open transaction, an unknown path). */
  readonly stale: boolean
  /** Earlier statements still run: the catalog and path may change before this one runs. */
  readonly inFlight: boolean
  /** How rules name columns (MySQL passes its own case rules). */
  readonly match?: ColumnMatch | undefined
  /** The session's taints: they mask what it copies from, never where it copies to (maskedCopy). */
  readonly sessionOnly?: ReadonlySet<MaskingRule> | undefined
}

/**
 * The first write of a statement that stores a masked column where its rule does not reach; undefined
 * when there is none. Writes into the session's temporary relations are the session's own. A write
 * whose catalog may be stale is judged as if it stored everything it reads, unknown included.
 */
export function storedCopy(
  writes: readonly StoredWrite[],
  rules: readonly MaskingRule[],
  how: StoreJudging,
): StoredCopy | undefined {
  // Masking everything after unseen code ran protects this session's reads; what that code could copy it has
  // copied already, so it is no reason to refuse copies of columns no rule masks.
  rules = rules.filter((r) => r.columns?.[0] !== EVERY_COLUMN)
  for (const w of writes) {
    if (w.temporary) continue
    // A condition is judged over the catalog as known: DDL cannot hide a masked column (renames are copies).
    const condition = DECIDING.has(w.table) || w.compared === true
    const stale =
      (how.stale || how.inFlight || w.afterDdl) && !condition
        ? maskedCopy({...w, columns: null, unknown: true}, rules, how.match, how.sessionOnly)
        : undefined
    const copy = stale ?? maskedCopy(w, rules, how.match, how.sessionOnly)
    if (copy === undefined) continue
    const message = messageOf(w, copy, stale !== undefined, how)
    return {rule: copy.rule, message}
  }
  return undefined
}

/** What the client is told of a write that escapes its rule (`stale`: judged without the catalog). */
function messageOf(w: StoredWrite, copy: MaskedCopy, stale: boolean, how: StoreJudging): string {
  if (w.table === CONDITION) return conditionMessage(copy, how)
  if (w.table === ORDER) return orderMessage(copy)
  if (w.table === FAILS) return failsMessage(copy, how)
  if (w.table === CHECKED) return checkedMessage(copy, how)
  if (w.table.startsWith(DELAY)) return delayMessage(copy, w.table.slice(DELAY.length))
  if (w.compared === true) return comparedMessage(copy)
  if (w.table.startsWith(ROW_COUNT)) return countMessage(copy, w.table.slice(ROW_COUNT.length))
  if (stale) return staleMessage(shown(w.table, w.table), how)
  return copyMessage(copy, shown(copy.target, w.table), how)
}

/** The column a copy takes its values from, as messages name it. */
function sourceOf(copy: MaskedCopy): string {
  return copy.source === undefined ? 'values dbgate cannot trace' : `masked column ${copy.source}`
}

/** Where a write stores, as the client wrote it (lineage marks unresolved schemas and server files). */
function shown(target: string, table: string): string {
  if (table.startsWith(SERVER_FILE)) return `the server file ${table.slice(SERVER_FILE.length)}`
  if (table.startsWith(SHARED_BY)) return `what ${table.slice(SHARED_BY.length)} keeps`
  const unresolved = `${UNRESOLVED_SCHEMA}.`
  return target.startsWith(unresolved) ? target.slice(unresolved.length) : target
}

/** How a dialect makes a temporary table from a query, with no column definitions of its own. */
function temporaryForm(how: StoreJudging): string {
  return how.dialect === 'postgres'
    ? 'CREATE TEMP TABLE ... AS'
    : 'CREATE TEMPORARY TABLE ... SELECT, without column definitions'
}

function temporaryHint(how: StoreJudging): string {
  return `copy into a temporary table instead (${temporaryForm(how)}), which the session masks`
}

function copyMessage(copy: MaskedCopy, target: string, how: StoreJudging): string {
  const what =
    copy.source === undefined
      ? `may store values of masked columns in ${target} (dbgate cannot tell what it copies)`
      : `copies masked column ${copy.source} into ${target}`
  return `${what}, where other sessions would read them unmasked; ${temporaryHint(how)}`
}

function countMessage(copy: MaskedCopy, through: string): string {
  return (
    `returns a number of rows computed from ${sourceOf(copy)} (through ${through}), which shows its values ` +
    'whatever masking does to the rows; compute it from columns no masking rule covers'
  )
}

function conditionMessage(copy: MaskedCopy, how: StoreJudging): string {
  // MySQL compares a string with a number by its leading digits: only quoted values are looked up.
  const values = how.dialect === 'mysql' ? 'values you supply as quoted strings' : 'values you supply'
  return (
    `chooses rows (or a CASE's result) by a condition computed from ${sourceOf(copy)}, so ` +
    'which rows return, how many change or whether it fails shows its values whatever masking does to them ' +
    `(WHERE email LIKE 'a%' finds one character at a time); compare the column whole with = or IN to ` +
    `${values}, or test IS NULL`
  )
}

function failsMessage(copy: MaskedCopy, how: StoreJudging): string {
  const fails = how.dialect === 'mysql' ? 'whether it fails or warns' : 'whether it fails'
  return (
    `computes from ${sourceOf(copy)} with a cast, arithmetic, a pattern, a constraint or a function that fails ` +
    `for some inputs, so ${fails} shows its values whatever masking does to them (make_date(2000, ascii(email) - 96, 1) ` +
    "fails after 'l'); select the column itself, or compute with functions that cannot fail on it " +
    '(lower, upper, substr, length, concat, md5, a cast to text)'
  )
}

function checkedMessage(copy: MaskedCopy, how: StoreJudging): string {
  const fails = how.dialect === 'mysql' ? 'whether it fails or warns' : 'whether it fails'
  return (
    `stores a value computed from ${sourceOf(copy)} in a column whose type or constraints may refuse it ` +
    `(a length, a range, CHECK, a UNIQUE key), so ${fails} shows its values whatever masking does to them ` +
    "(SET email = email || repeat('x', 25) fails when the value is longer than the column allows); store " +
    `values you supply or the column itself back unchanged, or copy into a temporary table made from the query ` +
    `(${temporaryForm(how)}), which checks nothing`
  )
}

function orderMessage(copy: MaskedCopy): string {
  return (
    `sorts rows by ${sourceOf(copy)} (ORDER BY, or GROUP BY, DISTINCT, UNION or a window, which the ` +
    'server runs by sorting), so the order of the rows shows how its values compare whatever masking does ' +
    'to them (a row of a value you know, sorted among them, finds them one character at a time); sort, ' +
    'group or deduplicate by columns no masking rule covers, or use UNION ALL'
  )
}

function delayMessage(copy: MaskedCopy, through: string): string {
  return (
    `calls ${through} while reading ${sourceOf(copy)}: how long it takes can show its values whatever masking ` +
    'does to the rows (CASE WHEN ... THEN a delay answers one question per call); run the delay on its own'
  )
}

function comparedMessage(copy: MaskedCopy): string {
  return (
    `compares masked column ${copy.source ?? '?'} with ${copy.target}, which no masking rule covers as ` +
    'strictly, so the rows that match show its values; compare it with a column masked as strictly, or ' +
    'with values you supply'
  )
}

function staleMessage(table: string, how: StoreJudging): string {
  const why = how.inFlight
    ? 'while earlier statements are still running'
    : how.dialect === 'postgres'
      ? 'after DDL earlier in this transaction or query'
      : 'after DDL earlier in this query'
  const first =
    how.dialect === 'postgres' ? 'send it on its own after the DDL is committed' : 'send it on its own'
  return (
    `writes into ${table} from other relations ${why}, so dbgate cannot tell whether it copies ` +
    `masked columns where other sessions would read them unmasked; ${first}, or ${temporaryHint(how)}`
  )
}
