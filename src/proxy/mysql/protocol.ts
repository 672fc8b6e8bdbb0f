/** MySQL client/server protocol constants, with the wire value of each in the name's comment. */

/** Capability flags (the low 32 bits; MariaDB's extended flags are never offered). */
export const Cap = {
  longPassword: 0x1, // CLIENT_LONG_PASSWORD (MariaDB: CLIENT_MYSQL)
  foundRows: 0x2, // CLIENT_FOUND_ROWS
  longFlag: 0x4, // CLIENT_LONG_FLAG
  connectWithDb: 0x8, // CLIENT_CONNECT_WITH_DB
  noSchema: 0x10, // CLIENT_NO_SCHEMA
  compress: 0x20, // CLIENT_COMPRESS
  odbc: 0x40, // CLIENT_ODBC
  localFiles: 0x80, // CLIENT_LOCAL_FILES
  ignoreSpace: 0x100, // CLIENT_IGNORE_SPACE
  protocol41: 0x200, // CLIENT_PROTOCOL_41
  interactive: 0x400, // CLIENT_INTERACTIVE
  ssl: 0x800, // CLIENT_SSL
  ignoreSigpipe: 0x1000, // CLIENT_IGNORE_SIGPIPE
  transactions: 0x2000, // CLIENT_TRANSACTIONS
  reserved: 0x4000, // CLIENT_RESERVED
  secureConnection: 0x8000, // CLIENT_SECURE_CONNECTION
  multiStatements: 0x10000, // CLIENT_MULTI_STATEMENTS
  multiResults: 0x20000, // CLIENT_MULTI_RESULTS
  psMultiResults: 0x40000, // CLIENT_PS_MULTI_RESULTS
  pluginAuth: 0x80000, // CLIENT_PLUGIN_AUTH
  connectAttrs: 0x100000, // CLIENT_CONNECT_ATTRS
  pluginAuthLenenc: 0x200000, // CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
  canHandleExpiredPasswords: 0x400000, // CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS
  sessionTrack: 0x800000, // CLIENT_SESSION_TRACK
  deprecateEof: 0x1000000, // CLIENT_DEPRECATE_EOF
  queryAttributes: 0x8000000, // CLIENT_QUERY_ATTRIBUTES (not offered)
} as const

/**
 * What the proxy offers a client, before LOCAL INFILE: everything its dispatchers understand. Not
 * offered: compression, TLS (loopback), query attributes, session tracking (OK packets stay short).
 */
export const PROXY_CAPABILITIES =
  Cap.longPassword |
  Cap.foundRows |
  Cap.longFlag |
  Cap.connectWithDb |
  Cap.noSchema |
  Cap.odbc |
  Cap.ignoreSpace |
  Cap.protocol41 |
  Cap.interactive |
  Cap.ignoreSigpipe |
  Cap.transactions |
  Cap.reserved |
  Cap.secureConnection |
  Cap.multiStatements |
  Cap.multiResults |
  Cap.psMultiResults |
  Cap.pluginAuth |
  Cap.connectAttrs |
  Cap.pluginAuthLenenc |
  Cap.deprecateEof

/** Command bytes (first byte of a client packet with sequence id 0). */
export const Command = {
  quit: 0x01, // COM_QUIT
  initDb: 0x02, // COM_INIT_DB
  query: 0x03, // COM_QUERY
  fieldList: 0x04, // COM_FIELD_LIST
  statistics: 0x09, // COM_STATISTICS
  ping: 0x0e, // COM_PING
  changeUser: 0x11, // COM_CHANGE_USER
  stmtPrepare: 0x16, // COM_STMT_PREPARE
  stmtExecute: 0x17, // COM_STMT_EXECUTE
  stmtSendLongData: 0x18, // COM_STMT_SEND_LONG_DATA
  stmtClose: 0x19, // COM_STMT_CLOSE
  stmtReset: 0x1a, // COM_STMT_RESET
  setOption: 0x1b, // COM_SET_OPTION
  stmtFetch: 0x1c, // COM_STMT_FETCH
  resetConnection: 0x1f, // COM_RESET_CONNECTION
} as const

/** Server status flags the dispatchers read. */
export const Status = {
  moreResultsExist: 0x0008, // SERVER_MORE_RESULTS_EXISTS
  cursorExists: 0x0040, // SERVER_STATUS_CURSOR_EXISTS
} as const

/** First payload bytes of server packets. */
export const Header = {
  ok: 0x00,
  authMoreData: 0x01,
  localInfile: 0xfb,
  eof: 0xfe, // EOF, or AuthSwitchRequest during authentication
  err: 0xff,
} as const

/** Error codes the proxy sends in its own ERR packets. */
export const ErrCode = {
  /** ER_TABLEACCESS_DENIED_ERROR: "... command denied to user": the policy's denials. */
  accessDenied: 1142,
  /** ER_ACCESS_DENIED_ERROR: the local password was wrong. */
  wrongPassword: 1045,
  /** ER_UNKNOWN_COM_ERROR: a command the proxy does not relay. */
  unknownCommand: 1047,
  /** ER_NOT_SUPPORTED_YET. */
  notSupported: 1235,
  /** ER_NET_PACKET_TOO_LARGE. */
  packetTooLarge: 1153,
  /** ER_NET_READ_ERROR: a malformed packet. */
  malformed: 1158,
  /** ER_CON_COUNT_ERROR-like refusal of a new connection; ER_SERVER_SHUTDOWN for shutdown. */
  serverShutdown: 1053,
  /** CR_CONN_HOST_ERROR-like: dbgate cannot reach the database. */
  upstreamUnreachable: 2003,
  /** ER_NOT_ALLOWED_COMMAND: LOAD DATA LOCAL is not allowed. */
  notAllowedCommand: 1148,
  /** ER_QUERY_INTERRUPTED: a KILL QUERY ended the statement (here: its wait for approval). */
  interrupted: 1317,
} as const

/** utf8mb4_general_ci: the collation the proxy announces in its greeting. */
export const DEFAULT_COLLATION = 45
/** The plugin the proxy asks local clients for. */
export const NATIVE_PASSWORD = 'mysql_native_password'
/** MySQL 8's default plugin, supported upstream. */
export const CACHING_SHA2 = 'caching_sha2_password'
