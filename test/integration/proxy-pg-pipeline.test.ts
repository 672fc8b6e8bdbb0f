/**
 * The guard in the extended protocol, on the wire: denials come out in order relative to the server's
 * responses to messages of the same pipeline, the engine skips to Sync like a server, and the session goes on.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {createScratchDb, type ScratchDb} from '../support/pg-scratch.js'
import {F, RawClient, errorCode, errorMessage, types} from '../support/pg-raw.js'
import {startTestProxy, type TestProxy} from '../support/proxy.js'

let db: ScratchDb
let proxy: TestProxy

beforeAll(async () => {
  db = await createScratchDb(
    'dbgate_pipe',
    `create table t(id int primary key, v text); insert into t values (1, 'a'), (2, 'b');`,
  )
  proxy = await startTestProxy(db.url)
})
afterAll(async () => {
  await proxy?.close()
  await db?.drop()
})

function connect(): Promise<RawClient> {
  return RawClient.connect(proxy.port, {user: 'postgres', database: db.name})
}

describe('extended protocol pipelines', () => {
  it('answers a denial after the responses to the messages sent before it, then ReadyForQuery', async () => {
    const c = await connect()
    c.send(
      F.parse('', 'select id from t where id = $1'),
      F.bind('', '', ['1']),
      F.execute(''),
      F.parse('', 'drop table t'),
      F.bind('', ''),
      F.execute(''),
      F.sync(),
      F.parse('', 'select count(*) from t'),
      F.bind('', ''),
      F.execute(''),
      F.sync(),
    )
    const first = await c.readUntil('Z')
    expect(types(first)).toBe('12DCEZ')
    expect(errorCode(first[4]!)).toBe('42501')
    expect(errorMessage(first[4]!)).toContain('no-drop')
    const second = await c.readUntil('Z')
    expect(types(second)).toBe('12DCZ')
    c.end()
  })

  it('drops the denial when the server failed earlier in the same pipeline (a server skips the rest too)', async () => {
    const c = await connect()
    c.send(
      F.parse('', 'select 1/0'),
      F.bind('', ''),
      F.execute(''),
      F.parse('', 'drop table t'),
      F.execute(''),
      F.sync(),
    )
    const msgs = await c.readUntil('Z')
    expect(types(msgs)).toBe('1EZ')
    expect(errorMessage(msgs[1]!)).toContain('division by zero')
    c.send(F.query('select 1'))
    expect(types(await c.readUntil('Z'))).toBe('TDCZ')
    c.end()
  })

  it('answers a denial at once when nothing is owed, and through Flush for clients that wait before Sync', async () => {
    const c = await connect()
    c.send(F.parse('s1', 'select v from t where id = $1'), F.parse('s2', 'truncate t'), F.flush())
    const early = await c.readUntil('E')
    expect(types(early)).toBe('1E')
    c.send(F.bind('', 's1', ['2']), F.execute(''), F.sync())
    // Bind/Execute after the denial are discarded until Sync, like a server in error state.
    expect(types(await c.readUntil('Z'))).toBe('Z')
    c.send(F.bind('', 's1', ['2']), F.execute(''), F.sync())
    const again = await c.readUntil('Z')
    expect(types(again)).toBe('2DCZ')
    c.end()
  })

  it('keeps an explicit transaction open across a denial; ReadyForQuery reports it', async () => {
    const c = await connect()
    c.send(F.query('begin; insert into t values (10, $$x$$)'))
    const begun = await c.readUntil('Z')
    expect(begun.at(-1)!.frame[5]).toBe(0x54) // 'T'
    c.send(F.parse('', 'drop table t'), F.bind('', ''), F.execute(''), F.sync())
    const denied = await c.readUntil('Z')
    expect(types(denied)).toBe('EZ')
    expect(denied.at(-1)!.frame[5]).toBe(0x54)
    c.send(F.query('insert into t values (11, $$y$$); commit'))
    const committed = await c.readUntil('Z')
    expect(committed.at(-1)!.frame[5]).toBe(0x49) // 'I'
    c.send(F.query('select count(*) from t where id in (10, 11)'))
    const rows = await c.readUntil('Z')
    expect(rows.find((m) => m.type === 'D')!.frame.toString('latin1')).toContain('2')
    c.end()
  })

  it('denies a simple Query holding several statements when one of them is denied', async () => {
    const c = await connect()
    c.send(F.query('insert into t values (20, $$z$$); drop table t'))
    const msgs = await c.readUntil('Z')
    expect(types(msgs)).toBe('EZ')
    c.send(F.query('select count(*) from t where id = 20'))
    const rows = await c.readUntil('Z')
    expect(
      rows
        .find((m) => m.type === 'D')!
        .frame.subarray(-1)
        .toString(),
    ).toBe('0')
    c.end()
  })

  it('judges PREPARE by what it prepares, and EXECUTE of a protocol-level statement by what it runs', async () => {
    const c = await connect()
    c.send(F.query('prepare wipe as delete from t'))
    const prepared = await c.readUntil('Z')
    expect(types(prepared)).toBe('EZ')
    c.send(F.parse('ok', 'select 1'), F.sync())
    expect(types(await c.readUntil('Z'))).toBe('1Z')
    c.send(F.query('execute ok'))
    expect(types(await c.readUntil('Z'))).toContain('D')
    c.end()
  })

  it('relays COPY FROM STDIN and COPY TO STDOUT', async () => {
    const c = await connect()
    c.send(F.query('copy t (id, v) from stdin'))
    expect(types(await c.readUntil('G'))).toBe('G')
    c.send(F.copyData('100\tcopied\n101\tcopied\n'), F.copyDone())
    const done = await c.readUntil('Z')
    expect(done[0]!.frame.toString('latin1')).toContain('COPY 2')
    c.send(F.query(`copy (select id, v from t where v = 'copied' order by id) to stdout`))
    const out = await c.readUntil('Z')
    expect(types(out)).toBe('HddcCZ')
    expect(out[1]!.frame.subarray(5).toString()).toBe('100\tcopied\n')
    c.end()
  })
})
