/**
 * Errors and notices of a statement that may read masked columns can echo a value (`select
 * email::int from users` fails with `invalid input syntax for type integer: "alice@..."`). Their
 * text is scrubbed before it reaches the client or the audit trail: quoted parts and anything a
 * classifier finds are redacted, fields that quote data (detail, hint, context, internal query) are
 * dropped, and a message raised by user code is replaced whole.
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
  return maskTextValue(unquoted, EVERYTHING, NO_KEY) ?? REDACTED
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
