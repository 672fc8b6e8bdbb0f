/**
 * Errors and notices of a statement that may read masked columns can echo a value (`select
 * email::int from users` fails with `invalid input syntax for type integer: "alice@..."`). Their
 * text is scrubbed before it reaches the client or the audit trail: quoted parts and anything a
 * classifier finds are redacted, and so are numbers (`make_date(ascii(substr(email, 1, 1)), 13, 1)`
 * fails with `date field value out of range: 97-13-01`, one character of the value); fields that
 * quote data (detail, hint, context, internal query) are dropped, and a message raised by user code
 * is replaced whole. ParameterStatus values that are free text are redacted likewise.
 */
import {maskTextValue, REDACTED, type FieldMask} from '../../masking/index.js'
import {Backend, ErrorField} from './messages.js'
import {bodyOf, typed} from './wire.js'

const EVERYTHING: FieldMask = {
  kind: 'detect',
  rules: [
    {
      rule: 'error-scrub',
      classifiers: ['email', 'credit_card', 'ssn', 'phone', 'iban', 'secret'],
      style: 'redact',
    },
  ],
  type: 'text',
}
const NO_KEY = new Uint8Array(16)
/** Fields that name things (severity, code, position, schema/table/column/type/constraint, source). */
const KEEP = new Set([0x53, 0x56, 0x43, 0x50, 0x73, 0x74, 0x63, 0x64, 0x6e, 0x46, 0x4c, 0x52])

/** The message text with quoted parts and detected values redacted. */
export function scrubMessage(message: string): string {
  const unquoted = message.replace(/"(?:[^"]|"")*"?/g, `"${REDACTED}"`)
  // Numbers in any base: a computed value can be echoed unquoted as one (a code point, a byte).
  const plain = unquoted.replace(/\b0x[0-9a-f]+|[0-9]+(?:[.:-][0-9]+)*/gi, '#')
  return maskTextValue(plain, EVERYTHING, NO_KEY) ?? REDACTED
}

/** A scrubbed copy of an ErrorResponse or NoticeResponse frame; throws WireError when malformed. */
export function scrubError(frame: Buffer): Buffer {
  const r = bodyOf(frame)
  const parts: Buffer[] = []
  let code = ''
  const fields: [number, string][] = []
  for (let f = r.byte(); f !== 0; f = r.byte()) {
    const value = r.cstring()
    if (f === ErrorField.Code) code = value
    fields.push([f, value])
  }
  for (const [f, value] of fields) {
    let out: string | undefined
    if (f === ErrorField.Message)
      out = code.startsWith('P0')
        ? 'a function raised an error (message hidden: the statement reads masked data)'
        : scrubMessage(value)
    else if (KEEP.has(f)) out = value
    if (out !== undefined) parts.push(Buffer.from([f]), Buffer.from(`${out}\0`, 'utf8'))
  }
  parts.push(Buffer.from([0]))
  const type = frame[0] === Backend.NoticeResponse ? Backend.NoticeResponse : Backend.ErrorResponse
  return typed(type, Buffer.concat(parts))
}

/** A NotificationResponse with its payload redacted (the channel and sender stay). */
export function scrubNotification(frame: Buffer): Buffer {
  const r = bodyOf(frame)
  const pid = r.int32()
  const channel = r.cstringBytes()
  r.cstringBytes()
  const head = Buffer.allocUnsafe(4)
  head.writeInt32BE(pid, 0)
  const body = Buffer.concat([head, channel, Buffer.from(`\0${REDACTED}\0`, 'utf8')])
  return typed(Backend.NotificationResponse, body)
}

/**
 * Parameters whose reported value the server validates against a closed set (an encoding, a style, a
 * zone, a role, on/off): they cannot carry a value a statement computed, and clients need them.
 */
const VALIDATED_PARAMETERS = new Set([
  'client_encoding',
  'server_encoding',
  'server_version',
  'DateStyle',
  'IntervalStyle',
  'TimeZone',
  'integer_datetimes',
  'standard_conforming_strings',
  'is_superuser',
  'session_authorization',
  'default_transaction_read_only',
  'in_hot_standby',
])

/**
 * A ParameterStatus with a free-text or numeric value redacted: `set_config('application_name',
 * email, false)` makes the server report the value to the client.
 */
export function scrubParameterStatus(frame: Buffer): Buffer {
  const r = bodyOf(frame)
  const name = r.cstring()
  const value = r.cstring()
  if (VALIDATED_PARAMETERS.has(name)) return frame
  const text = value === '' ? '' : REDACTED
  return typed(Backend.ParameterStatus, Buffer.from(`${name}\0${text}\0`, 'utf8'))
}
