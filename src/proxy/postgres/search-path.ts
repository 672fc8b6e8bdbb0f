/**
 * A masking session's search_path, as set_config takes it (null: the session's default, the startup
 * value or else the role's), followed through SET, SET LOCAL, RESET and the transactions that keep or
 * undo them. Unqualified names resolve on it. `unknown`: it changed in a way the proxy cannot follow
 * (set_config(), SET ROLE, a savepoint rollback, a statement whose effects were not followed): lineage
 * is then unknown, and unknown is masked.
 */
import type {LineageEffect} from '../../policy/index.js'

/** One transaction's bookkeeping, starting from the session's path. */
interface Transaction {
  path: string | null
  changed: boolean
  failed: boolean
  rollback: boolean
  partial: boolean
  ddl: boolean
}

function newTx(path: string | null): Transaction {
  return {path, changed: false, failed: false, rollback: false, partial: false, ddl: false}
}

/** Settings whose change may move the path where no statement shows it. */
const PATH_SETTINGS = /search_path|reset|discard|role|authorization/i

export class SearchPath {
  /** True once the path changed in a way the proxy cannot follow. */
  unknown = false
  private sessionPath: string | null = null
  private currentPath: string | null = null
  private tx = newTx(null)

  /** `onChange` runs when the path names resolve on changes (caches keyed by it must go). */
  constructor(private readonly onChange: () => void) {}

  /** The path names resolve on now; null for the session's default. */
  get current(): string | null {
    return this.currentPath
  }

  /** True when the open transaction ran DDL (the side connection cannot see its catalog). */
  get ddl(): boolean {
    return this.tx.ddl
  }

  /** The open transaction ran DDL. */
  ranDdl(): void {
    this.tx.ddl = true
  }

  /** A statement whose effects are not followed ran: a path it may set is unknown. */
  unfollowed(sql: string): void {
    if (this.tx.changed || PATH_SETTINGS.test(sql)) this.tx.partial = this.unknown = true
  }

  /** An ErrorResponse arrived: the transaction failed, what it set will be undone. */
  failed(): void {
    this.tx.failed = true
  }

  /**
   * ReadyForQuery with this transaction status (`I` idle, `T` in a transaction, `E` failed): at the end
   * of a transaction the path it set is kept or undone. Returns true when the transaction that ended
   * ran DDL.
   */
  ready(status: number | undefined): boolean {
    if (status === 0x45 /* 'E' */) this.tx.failed = true
    if (status !== 0x49 /* 'I' */) return false
    const tx = this.tx
    if (tx.changed) {
      if (tx.partial) this.unknown = true
      else if (!tx.failed && !tx.rollback) this.sessionPath = tx.path
      this.set(this.sessionPath)
    }
    this.tx = newTx(this.sessionPath)
    return tx.ddl
  }

  /** Follows path changes and transaction ends among a completed statement's effects. */
  follow(effects: readonly LineageEffect[]): void {
    for (const e of effects) {
      if (e.kind === 'transaction-end') {
        if (e.how === 'rollback') this.tx.rollback = true
        if (e.how === 'partial') this.tx.partial = true
      } else if (e.kind === 'search-path') {
        if (e.value === undefined) {
          this.unknown = true
          continue
        }
        this.tx.changed = true
        if (!e.local) this.tx.path = e.value
        this.set(e.value)
      }
    }
  }

  private set(path: string | null): void {
    if (path === this.currentPath) return
    this.currentPath = path
    this.onChange()
  }
}
