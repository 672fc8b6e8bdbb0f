import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {describeProcess, findTcpRow} from '../../src/audit/process-info.js'
import {
  decodeProcAddress,
  normaliseAddress,
  parseCmdline,
  parsePpid,
  parseTcpTable,
} from '../../src/audit/proc-net.js'

const HEADER =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n'
const ROW4 =
  '   3: 0100007F:D431 0100007F:1538 01 00000000:00000000 00:00000000 00000000  1000        0 123456 1 0000000000000000 20 4 30 10 -1\n'
const ROW6 =
  '   0: 0000000000000000FFFF00000100007F:9C40 0000000000000000FFFF00000100007F:1538 01 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 20 4 0 10 -1\n'
const LOOP6 =
  '   1: 00000000000000000000000001000000:9C41 00000000000000000000000001000000:1538 06 00000000:00000000 00:00000000 00000000     0        0 0 1\n'

describe('/proc/net/tcp parsing', () => {
  it('reads IPv4, IPv4-mapped IPv6 and IPv6 rows', () => {
    expect(parseTcpTable(HEADER + ROW4)).toEqual([
      {
        localAddress: '127.0.0.1',
        localPort: 54321,
        remoteAddress: '127.0.0.1',
        remotePort: 5432,
        state: 1,
        inode: 123456,
      },
    ])
    expect(parseTcpTable(HEADER + ROW6 + LOOP6)).toEqual([
      {
        localAddress: '127.0.0.1',
        localPort: 40000,
        remoteAddress: '127.0.0.1',
        remotePort: 5432,
        state: 1,
        inode: 777,
      },
      {localAddress: '::1', localPort: 40001, remoteAddress: '::1', remotePort: 5432, state: 6, inode: 0},
    ])
  })

  it('with a port, decodes only the rows that have it at either end', () => {
    const table = HEADER + ROW4 + ROW6 + LOOP6
    expect(parseTcpTable(table, 54321).map((r) => r.inode)).toEqual([123456])
    expect(parseTcpTable(table, 40001).map((r) => r.localPort)).toEqual([40001])
    expect(parseTcpTable(table, 5432).map((r) => r.localPort)).toEqual([54321, 40000, 40001])
    expect(parseTcpTable(table, 54322)).toEqual([])
  })

  describe('reading a table a chunk at a time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dbgate-procnet-'))
    afterAll(() => rmSync(dir, {recursive: true, force: true}))
    /** A table of `n` other established rows (port 0x1000 + i → 5432), then `tail`. */
    const table = (name: string, n: number, tail: string): string => {
      const other = (i: number): string =>
        ROW4.replace(':D431', `:${(0x1000 + i).toString(16).toUpperCase()}`).replace(
          ' 123456 ',
          ` ${900 + i} `,
        )
      const path = join(dir, name)
      writeFileSync(path, HEADER + Array.from({length: n}, (_, i) => other(i)).join('') + tail)
      return path
    }
    const wanted = (r: {localPort: number; inode: number}): boolean => r.localPort === 0xd431 && r.inode > 0

    it('finds a row that straddles a chunk boundary, and the last row without its newline', async () => {
      for (let n = 400; n < 520; n += 7) {
        const found = await findTcpRow(table(`t${n}`, n, ROW4), 0xd431, wanted)
        expect(found?.inode, `${n} rows before it`).toBe(123456)
      }
      const last = await findTcpRow(table('no-newline', 3, ROW4.trimEnd()), 0xd431, wanted)
      expect(last?.inode).toBe(123456)
    })

    it('answers undefined for a table without the row, a missing table and a truncated last row', async () => {
      expect(await findTcpRow(table('absent', 600, ''), 0xd431, wanted)).toBeUndefined()
      expect(await findTcpRow(join(dir, 'nothing-here'), 0xd431, wanted)).toBeUndefined()
      const cut = ROW4.slice(0, ROW4.indexOf(' 123456') + 4)
      expect(await findTcpRow(table('cut', 2, cut), 0xd431, wanted)).toBeUndefined()
    })
  })

  it.each([
    ['an empty table', ''],
    ['only the header', HEADER],
    ['a truncated row', HEADER + '   3: 0100007F:D431 0100007F:1538 01\n'],
    ['a bad address', HEADER + ROW4.replace('0100007F:D431', '01G0007F:D431')],
    ['an odd-length address', HEADER + ROW4.replace('0100007F:D431', '100007F:D431')],
    ['a bad port', HEADER + ROW4.replace(':D431', ':D4')],
    ['a bad inode', HEADER + ROW4.replace(' 123456 ', ' -5 ')],
    ['a bad state', HEADER + ROW4.replace(' 01 ', ' X1 ')],
    ['binary garbage', '\u0000\u0001\u0002\n\u00ff\u00fe 1: 2 3 4 5 6 7 8 9 10'],
  ])('skips %s', (_, text) => {
    expect(parseTcpTable(text)).toEqual([])
  })

  it.each([
    ['0100007F', '127.0.0.1'],
    ['00000000', '0.0.0.0'],
    ['00000000000000000000000001000000', '::1'],
    ['0000000000000000FFFF00000100007F', '127.0.0.1'],
    ['B80D0120000000000000000001000000', '2001:db8::1'],
    ['zz', undefined],
    ['0100', undefined],
  ])('decodes %s as %s', (hex, text) => {
    expect(decodeProcAddress(hex)).toBe(text)
  })

  it('normalises addresses as the kernel tables show them', () => {
    expect(normaliseAddress('::ffff:127.0.0.1')).toBe('127.0.0.1')
    expect(normaliseAddress('::1')).toBe('::1')
  })

  it('reads PPid and NUL-separated command lines', () => {
    expect(parsePpid('Name:\tpsql\nPid:\t123\nPPid:\t100\n')).toBe(100)
    expect(parsePpid('Name:\tx\n')).toBeUndefined()
    expect(parseCmdline(Buffer.from('psql\x00-h\x00127.0.0.1\x00'))).toEqual(['psql', '-h', '127.0.0.1'])
    expect(parseCmdline(Buffer.from('a b c'))).toEqual(['a b c'])
    expect(parseCmdline(Buffer.alloc(0))).toEqual([])
  })
})

describe('process one-liner', () => {
  it.each([
    [
      {
        found: true,
        pid: 123,
        exe: '/usr/bin/psql',
        cmdline: ['psql'],
        parents: [{pid: 100, exe: '/bin/bash', cmdline: ['-bash']}],
      },
      'psql (pid 123), started by bash (pid 100)',
    ],
    [{found: true, pid: 7, exe: null, cmdline: ['/opt/x/agent', '--y'], parents: []}, 'agent (pid 7)'],
    [{found: false, reason: 'the client exited'}, 'unknown process (the client exited)'],
  ] as const)('%j', (info, line) => {
    expect(describeProcess(info)).toBe(line)
  })
})
