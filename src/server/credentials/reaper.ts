import {messageOf} from '../../errors.js'
import type {Store} from '../store/index.js'
import {isMintedName, MINTED_PREFIX} from './names.js'
import type {CredentialService} from './service.js'

/**
 * The reaper: revokes the users of sessions that ended or expired (a CLI that crashed never says goodbye;
 * MySQL has no VALID UNTIL), then scans each target that had sessions for users with the dbgate prefix and
 * drops those whose session is no longer live. It runs once at start, so it also cleans up what a previous
 * process minted, and then on an interval. It never drops a user the store has no record of: a name that
 * merely looks like ours is left alone.
 */

/** What one run did. */
export interface ReapReport {
  /** `target/user` of every user dropped. */
  readonly revoked: string[]
  /** Failures (a target down, a user that still owns objects elsewhere); retried on the next run. */
  readonly failed: {target: string; user: string; error: string}[]
  /** Users with the prefix the store does not know: never touched. */
  foreign: number
}

/** Revoked sessions are forgotten after a week. */
const KEEP_REVOKED_MS = 7 * 86_400_000
/** The orphan scan looks at targets with a session revoked in the last day. */
const SCAN_WINDOW_MS = 86_400_000

/** Runs reaper passes; one at a time (a slow pass is never overlapped by the next tick). */
export class Reaper {
  private running: Promise<ReapReport> | undefined

  /** Creates the reaper. */
  constructor(
    private readonly store: Store,
    private readonly credentials: CredentialService,
    private readonly now: () => number,
  ) {}

  /** One pass; concurrent callers share the pass in progress. */
  run(): Promise<ReapReport> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  /** Waits for the pass in progress, if any (before closing the store). */
  async settle(): Promise<void> {
    await this.running?.catch(() => undefined)
  }

  private async pass(): Promise<ReapReport> {
    const report: ReapReport = {revoked: [], failed: [], foreign: 0}
    const now = this.now()
    for (const s of await this.store.listDueDbSessions(now)) {
      const error = await this.credentials.revoke(s)
      if (error === undefined) report.revoked.push(`${s.target}/${s.dbUser}`)
      else report.failed.push({target: s.target, user: s.dbUser, error})
    }
    for (const name of await this.store.listDbSessionTargets(now - SCAN_WINDOW_MS))
      await this.scan(name, now, report)
    await this.store.purgeDbSessions(now - KEEP_REVOKED_MS)
    return report
  }

  private async scan(targetName: string, now: number, report: ReapReport): Promise<void> {
    const target = await this.store.getTarget(targetName)
    if (!target) return
    const engine = this.credentials.engines[target.protocol]
    let users: string[]
    try {
      users = await engine.list(await this.credentials.adminConnection(target), MINTED_PREFIX)
    } catch (err) {
      report.failed.push({target: targetName, user: '*', error: messageOf(err)})
      return
    }
    for (const user of users) {
      const s = isMintedName(user) ? await this.store.findDbSessionByUser(targetName, user) : undefined
      if (!s) {
        report.foreign++
        continue
      }
      const live = s.status !== 'revoked' && s.endedAt === null && s.expiresAt > now
      if (live || report.revoked.includes(`${targetName}/${user}`)) continue
      const error = await this.credentials.revoke(s)
      if (error === undefined) report.revoked.push(`${targetName}/${user}`)
      else report.failed.push({target: targetName, user, error})
    }
  }
}
