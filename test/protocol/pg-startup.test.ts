import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {
  classifyParameters,
  parseOptions,
  parseStartupPacket,
  settingAsSql,
  splitOptions,
} from '../../src/proxy/postgres/startup.js'
import {
  WireError,
  cancelRequest,
  readErrorFields,
  errorResponse,
  sslRequest,
  startupMessage,
} from '../../src/proxy/postgres/wire.js'

describe('startup packets', () => {
  it('decodes SSLRequest, CancelRequest and StartupMessage', () => {
    expect(parseStartupPacket(sslRequest())).toEqual({kind: 'ssl'})
    expect(parseStartupPacket(cancelRequest(1234, -5))).toEqual({kind: 'cancel', pid: 1234, secret: -5})
    const p = parseStartupPacket(
      startupMessage(
        new Map([
          ['user', 'alice'],
          ['database', 'shop'],
          ['application_name', 'psql'],
        ]),
      ),
    )
    expect(p.kind).toBe('startup')
    if (p.kind === 'startup')
      expect(Object.fromEntries(p.params)).toEqual({
        user: 'alice',
        database: 'shop',
        application_name: 'psql',
      })
  })

  it.each([
    ['protocol 2', Buffer.from([0, 0, 0, 8, 0, 2, 0, 0])],
    ['no user', startupMessage(new Map([['database', 'x']]))],
    ['unterminated parameter', Buffer.from([0, 0, 0, 12, 0, 3, 0, 0, 0x75, 0x73, 0x65, 0x72])],
    ['truncated cancel', Buffer.from([0, 0, 0, 12, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1])],
  ])('refuses %s', (_name, frame) => {
    expect(() => parseStartupPacket(frame)).toThrow(WireError)
  })

  it('never throws anything but WireError on random packets', () => {
    fc.assert(
      fc.property(fc.uint8Array({minLength: 4, maxLength: 64}), (bytes) => {
        const b = Buffer.concat([Buffer.from([0, 0, 0, bytes.length + 4]), Buffer.from(bytes)])
        try {
          parseStartupPacket(b)
        } catch (err) {
          expect(err).toBeInstanceOf(WireError)
        }
      }),
      {numRuns: 2000},
    )
  })
})

describe('startup parameters', () => {
  it('splits options like the server (backslash escapes)', () => {
    expect(splitOptions('-c a=1  -c b=x\\ y')).toEqual(['-c', 'a=1', '-c', 'b=x y'])
  })

  it('reads -c and -- settings and refuses other switches', () => {
    expect(parseOptions('-c search_path=app --statement-timeout=5s -cwork_mem=4MB')).toEqual([
      ['search_path', 'app'],
      ['statement_timeout', '5s'],
      ['work_mem', '4MB'],
    ])
    expect(() => parseOptions('-d 5')).toThrow(WireError)
    expect(() => parseOptions('-c novalue')).toThrow(WireError)
    expect(() => parseOptions('-c')).toThrow(WireError)
  })

  it('passes harmless parameters and turns the others into settings to decide', () => {
    const c = classifyParameters(
      new Map([
        ['user', 'u'],
        ['database', 'd'],
        ['application_name', 'psql'],
        ['client_encoding', 'UTF8'],
        ['standard_conforming_strings', 'off'],
        ['options', '-c search_path=evil'],
        ['_pq_.something', 'x'],
      ]),
    )
    expect(Object.fromEntries(c.passThrough)).toEqual({application_name: 'psql', client_encoding: 'UTF8'})
    expect(c.settings).toEqual([
      ['standard_conforming_strings', 'off'],
      ['search_path', 'evil'],
    ])
    expect(c.unsupportedExtensions).toEqual(['_pq_.something'])
  })

  it('writes a setting as a SET statement with quoted name and value', () => {
    expect(settingAsSql('my.setting', "it's")).toBe(`SET "my"."setting" = 'it''s'`)
  })
})

describe('ErrorResponse', () => {
  it('round-trips the fields dbgate writes', () => {
    const f = readErrorFields(
      errorResponse({severity: 'ERROR', code: '42501', message: 'denied', hint: 'ask'}),
    )
    expect(f.get(0x43)).toBe('42501')
    expect(f.get(0x4d)).toBe('denied')
    expect(f.get(0x48)).toBe('ask')
  })

  it('refuses an unterminated field list', () => {
    expect(() => readErrorFields(Buffer.from([0x45, 0, 0, 0, 7, 0x4d, 0x61]))).toThrow(WireError)
  })
})
