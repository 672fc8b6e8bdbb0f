/** The proxy's public surface: the engine interface, the listener, and the Postgres engine. */
export type {ConnectionHandler, Engine, Protocol, SessionInfo} from './engine.js'
export {startListener, type ListenerOptions, type ProxyListener} from './listener.js'
export type {PgEngineConfig} from './postgres/config.js'
export {PostgresEngine} from './postgres/engine.js'
export {DENY_ROUTINE, REVIEW_ROUTINE} from './postgres/decide.js'
export type {ReviewHook, ReviewOutcome, ReviewRequest} from './review.js'
export {parsePgUrl, describeTarget, TargetUrlError, type PgTarget, type SslMode} from './postgres/target.js'
export {
  connectUpstream,
  UpstreamRejectedError,
  UpstreamUnreachableError,
  type UpstreamConnection,
} from './postgres/upstream.js'
