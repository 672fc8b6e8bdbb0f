/**
 * Wire constants of the PostgreSQL frontend/backend protocol 3.0, as named constants with the byte in a
 * comment (https://www.postgresql.org/docs/15/protocol-message-formats.html).
 */

/** Type bytes of messages a client sends after the startup packet. */
export const Frontend = {
  Bind: 0x42, // 'B'
  Close: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  Describe: 0x44, // 'D'
  Execute: 0x45, // 'E'
  Flush: 0x48, // 'H'
  FunctionCall: 0x46, // 'F'
  Parse: 0x50, // 'P'
  /** PasswordMessage, SASLInitialResponse and SASLResponse share this byte. */
  Password: 0x70, // 'p'
  Query: 0x51, // 'Q'
  Sync: 0x53, // 'S'
  Terminate: 0x58, // 'X'
} as const
/** One value of Frontend. */
export type Frontend = (typeof Frontend)[keyof typeof Frontend]

/** Type bytes of messages a server sends. */
export const Backend = {
  Authentication: 0x52, // 'R'
  BackendKeyData: 0x4b, // 'K'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  CommandComplete: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  CopyBothResponse: 0x57, // 'W'
  DataRow: 0x44, // 'D'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  FunctionCallResponse: 0x56, // 'V'
  NegotiateProtocolVersion: 0x76, // 'v'
  NoData: 0x6e, // 'n'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  ParameterDescription: 0x74, // 't'
  ParameterStatus: 0x53, // 'S'
  ParseComplete: 0x31, // '1'
  PortalSuspended: 0x73, // 's'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54, // 'T'
} as const
/** One value of Backend. */
export type Backend = (typeof Backend)[keyof typeof Backend]

/** Codes in the first Int32 after the length of an untyped startup-phase packet. */
export const StartupCode = {
  /** Protocol 3.0: 196608. */
  Protocol3: 0x00030000,
  CancelRequest: 80877102,
  SSLRequest: 80877103,
  GSSENCRequest: 80877104,
} as const
/** One value of StartupCode. */
export type StartupCode = (typeof StartupCode)[keyof typeof StartupCode]

/** Sub-codes of an Authentication ('R') message. */
export const AuthCode = {
  Ok: 0,
  CleartextPassword: 3,
  MD5Password: 5,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const
/** One value of AuthCode. */
export type AuthCode = (typeof AuthCode)[keyof typeof AuthCode]

/** Transaction status byte of ReadyForQuery. */
export const TxStatus = {
  Idle: 0x49, // 'I'
  InTransaction: 0x54, // 'T'
  Failed: 0x45, // 'E'
} as const
/** One value of TxStatus. */
export type TxStatus = (typeof TxStatus)[keyof typeof TxStatus]

/** SQLSTATE codes dbgate itself answers with. */
export const SqlState = {
  insufficientPrivilege: '42501',
  protocolViolation: '08P01',
  connectionFailure: '08006',
  cannotConnectNow: '57P03',
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  featureNotSupported: '0A000',
  programLimitExceeded: '54000',
} as const

/** Error and notice field codes (ErrorResponse / NoticeResponse). */
export const ErrorField = {
  Severity: 0x53, // 'S'
  SeverityNonLocalized: 0x56, // 'V'
  Code: 0x43, // 'C'
  Message: 0x4d, // 'M'
  Detail: 0x44, // 'D'
  Hint: 0x48, // 'H'
  Routine: 0x52, // 'R'
} as const
/** One value of ErrorField. */
export type ErrorField = (typeof ErrorField)[keyof typeof ErrorField]
