/**
 * Helpers of the Postgres masking leak suites: every form of a seeded value that must never reach the
 * client (the value, its reverse, base64 and hex), a search of every byte received, and the text of
 * DataRow fields.
 */
import {F, RawClient, type RawMessage} from './pg-raw.js'

/** Every form of each value that must never reach the client, lower-cased. */
export function needlesOf(values: readonly string[]): string[] {
  const out: string[] = []
  for (const v of values) {
    const b = Buffer.from(v)
    out.push(v, [...v].reverse().join(''), b.toString('base64'), b.toString('hex'))
  }
  return out.map((n) => n.toLowerCase())
}

/** The needles found in any byte of these messages. */
export function leaksIn(msgs: readonly RawMessage[], needles: readonly string[]): string[] {
  const all = Buffer.concat(msgs.map((m) => m.frame))
    .toString('latin1')
    .toLowerCase()
  return needles.filter((n) => all.includes(n))
}

/** Runs one simple-protocol query and returns every message up to ReadyForQuery. */
export async function simpleQuery(c: RawClient, sql: string): Promise<RawMessage[]> {
  c.send(F.query(sql))
  return c.readUntil('Z')
}

/** Text of the DataRow fields (null as null) of a result. */
export function dataRows(msgs: readonly RawMessage[]): (string | null)[][] {
  return msgs
    .filter((m) => m.type === 'D')
    .map((m) => {
      const out: (string | null)[] = []
      let p = 7
      for (let i = m.frame.readInt16BE(5); i > 0; i--) {
        const len = m.frame.readInt32BE(p)
        p += 4
        out.push(len < 0 ? null : m.frame.toString('utf8', p, p + len))
        if (len > 0) p += len
      }
      return out
    })
}

/** Runs statements in one fresh session through the proxy on `port`; returns every message of each. */
export async function sessionQueries(
  port: number,
  database: string,
  sqls: readonly string[],
): Promise<RawMessage[][]> {
  const c = await RawClient.connect(port, {user: 'postgres', database})
  try {
    const out: RawMessage[][] = []
    for (const sql of sqls) out.push(await simpleQuery(c, sql))
    return out
  } finally {
    c.end()
  }
}
