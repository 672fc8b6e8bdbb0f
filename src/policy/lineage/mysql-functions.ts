/**
 * MySQL and MariaDB built-in functions whose result is computed from their arguments alone, so
 * lineage can follow them. Any other name (a stored function, or a built-in missing here) makes its
 * result opaque and the statement's reads unknown: a stored function can return anything it can read.
 */
import {isObj} from '../mysql/walk.js'
import {names, type Safe, safeIn} from './fallible.js'

const PURE = new Set(
  [
    // strings
    'ascii bin bit_length char char_length character_length concat concat_ws elt export_set field',
    'find_in_set format from_base64 hex insert instr lcase left length like locate lower lpad ltrim',
    'make_set mid oct octet_length ord position quote regexp_instr regexp_like regexp_replace',
    'regexp_substr repeat replace reverse right rpad rtrim soundex space strcmp substr substring',
    'substring_index to_base64 trim ucase unhex upper weight_string convert cast char_length',
    'sformat natural_sort_key to_char chr lengthb extractvalue updatexml',
    // numbers
    'abs acos asin atan atan2 ceil ceiling conv cos cot crc32 crc32c degrees div exp floor greatest',
    'least ln log log10 log2 mod pi pow power radians rand round sign sin sqrt tan truncate bit_count',
    // dates and times
    'adddate addtime convert_tz curdate current_date current_time current_timestamp curtime',
    'date date_add date_format date_sub datediff day dayname dayofmonth dayofweek dayofyear extract',
    'from_days from_unixtime get_format hour last_day localtime localtimestamp makedate maketime',
    'microsecond minute month monthname now period_add period_diff quarter sec_to_time second',
    'str_to_date subdate subtime sysdate time time_format time_to_sec timediff timestamp timestampadd',
    'timestampdiff to_days to_seconds unix_timestamp utc_date utc_time utc_timestamp week weekday',
    'weekofyear year yearweek',
    // control flow and comparison
    'if ifnull nullif coalesce isnull interval nvl nvl2 decode_oracle',
    // json
    'json_array json_array_append json_array_insert json_arrayagg json_compact json_contains',
    'json_contains_path json_depth json_detailed json_equals json_exists json_extract json_insert',
    'json_keys json_length json_loose json_merge json_merge_patch json_merge_preserve json_normalize',
    'json_object json_objectagg json_overlaps json_pretty json_query json_quote json_remove',
    'json_replace json_schema_valid json_search json_set json_type json_unquote json_valid json_value',
    'json_array_intersect json_object_filter_keys json_object_to_array json_key_value',
    // hashing and encoding
    'aes_decrypt aes_encrypt compress decode encode des_decrypt des_encrypt md5 sha sha1 sha2',
    'uncompress uncompressed_length random_bytes password old_password encrypt',
    // aggregates
    'avg bit_and bit_or bit_xor count group_concat max min std stddev stddev_pop stddev_samp sum',
    'var_pop var_samp variance',
    // window functions
    'cume_dist dense_rank first_value lag last_value lead nth_value ntile percent_rank rank row_number',
    'percentile_cont percentile_disc median',
    // information about the session (no table data)
    'charset coercibility collation connection_id current_role current_user database schema user',
    'session_user system_user version last_insert_id row_count found_rows uuid uuid_short',
    'inet_aton inet_ntoa inet6_aton inet6_ntoa is_ipv4 is_ipv6 default values',
    // waits and locks that keep nothing of their arguments (GET_LOCK keeps its name: not here)
    'sleep benchmark release_lock is_free_lock is_used_lock release_all_locks',
    // MariaDB dynamic columns
    'column_create column_add column_delete column_get column_exists column_list column_check column_json',
  ]
    .join(' ')
    .split(/\s+/),
)

/** True for a built-in lineage can follow (its result depends only on its arguments). */
export function pureMysqlFunction(name: string): boolean {
  return PURE.has(name.toLowerCase())
}

/**
 * Which arguments of a built-in cannot make it fail or warn (see fallible.ts, the Postgres table): MySQL
 * converts a string used as a number, date or count with a warning (`SELECT ssn + 0` warns for each
 * value that is not all digits) and raises errors on overflow and bad patterns, and the warning count
 * is the client's, so only these arguments are safe for any value. Not GROUP_CONCAT nor JSON_ARRAYAGG:
 * they cut their result at `group_concat_max_len` with a warning, so whether it warns shows the
 * values' length (`SET SESSION group_concat_max_len = 16`, then `GROUP_CONCAT(email)`).
 */
const SAFE_ARGUMENTS = new Map<string, Safe>([
  ...names(
    'lower lcase upper ucase length char_length character_length octet_length bit_length concat ' +
      'concat_ws trim ltrim rtrim replace reverse md5 sha sha1 hex to_base64 ascii ord quote soundex ' +
      'crc32 crc32c coalesce ifnull nvl isnull if json_object json_array json_quote ' +
      'json_objectagg count min max locate instr position strcmp find_in_set row_number ' +
      'rank dense_rank cume_dist percent_rank first_value last_value nextval lastval',
    'all',
  ),
  // MariaDB's SETVAL(sequence, n): the sequence is a name; a value past its bounds fails
  ['setval', [0]],
  ...names('substr substring mid left right sha2 lag lead nth_value', [0]),
  ...names('lpad rpad', [0, 2]),
  ...names('insert', [0, 3]),
  ...names('substring_index', [0, 1]),
  ['elt', {from: 1}],
])

/**
 * Built-ins whose result grows with their arguments: past `max_allowed_packet` it is NULL with a warning,
 * so `CONCAT(email, REPEAT('x', 16777200))` warns when the value is longer than 16 characters.
 */
const GROWING = new Set(['concat', 'concat_ws', 'replace', 'insert'])

/** Longest literal that, joined with a masked value, cannot reach `max_allowed_packet`. */
const SMALL_LITERAL = 1024

/** A literal of at most SMALL_LITERAL characters (a string, number, NULL or boolean). */
function small(arg: unknown): boolean {
  if (!isObj(arg)) return false
  if (arg.type === 'null' || arg.type === 'bool' || arg.type === 'number') return true
  const literal =
    arg.type === 'single_quote_string' || arg.type === 'double_quote_string' || arg.type === 'string'
  return literal && String(arg.value).length <= SMALL_LITERAL
}

/**
 * True when argument `i` of built-in `name` cannot make the call fail or warn; `args` are the call's
 * arguments: a growing built-in's argument is safe only beside small literals (a column may hold a
 * value near the limit: the session can store one in its own table).
 */
export function safeMysqlArgument(name: string | null, i: number, args: readonly unknown[]): boolean {
  if (!safeIn(SAFE_ARGUMENTS, name, i)) return false
  return !GROWING.has(name ?? '') || args.every((a, k) => k === i || small(a))
}
