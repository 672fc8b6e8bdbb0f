import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {
  loadServerConfig,
  parseDuration,
  ServerConfigError,
  validateServerConfig,
  withDevMode,
} from '../../src/server/config.js'
import {displayUserCode, normaliseUserCode} from '../../src/server/device.js'
import {rolesFor} from '../../src/server/roles.js'
import {isLoopbackRedirect} from '../../src/server/routes/login.js'
import {parseListen} from '../../src/server/server.js'
import {openApiDocument} from '../../src/server/openapi.js'

const ROOT = join(import.meta.dirname, '..', '..')

describe('parseDuration', () => {
  it.each([
    ['90s', 90],
    ['10m', 600],
    ['12h', 43_200],
    ['30d', 2_592_000],
    ['2w', 1_209_600],
    ['15', 15],
    [3600, 3600],
  ] as const)('%s → %d seconds', (text, seconds) => expect(parseDuration(text)).toBe(seconds))
  it.each(['', '0', '-5m', '10y', 'soon', '1.5h', 0, 1.5])('rejects %s', (text) =>
    expect(parseDuration(text)).toBeUndefined(),
  )
})

describe('server config', () => {
  const problems = (doc: unknown): string => {
    try {
      validateServerConfig(doc, 'server.yaml')
    } catch (err) {
      expect(err).toBeInstanceOf(ServerConfigError)
      expect((err as ServerConfigError).exitCode).toBe(2)
      return (err as Error).message
    }
    throw new Error('expected an error')
  }

  it.each([
    [{listn: '1'}, '(document): Unrecognized key: "listn"'],
    [
      {dev: {users: [{username: 'a', password: 'p', group: ['x']}]}},
      'dev.users[0]: Unrecognized key: "group"',
    ],
    [{dev: {users: []}}, 'dev.users'],
    [{tokens: {access_ttl: 'forever'}}, 'tokens.access_ttl: "forever" is not a duration'],
    [
      {
        targets: [
          {
            name: 'a',
            protocol: 'oracle',
            host: 'h',
            port: 1,
            database: 'd',
            admin: {user: 'u', password: 'p'},
          },
        ],
      },
      'targets[0].protocol',
    ],
    [
      {
        targets: [
          {
            name: 'a',
            protocol: 'mysql',
            host: 'h',
            port: 70000,
            database: 'd',
            admin: {user: 'u', password: 'p'},
          },
        ],
      },
      'targets[0].port',
    ],
    [{roles: {admin: 'ops'}}, 'roles.admin'],
    [{public_url: 'ftp://x'}, 'public_url'],
    [
      {oidc: {issuer: 'https://idp', client_id: 'c'}, dev: {users: [{username: 'a', password: 'p'}]}},
      'dev: use either oidc or dev, not both',
    ],
  ])('names the path of %j', (doc, expected) => {
    const message = problems(doc)
    expect(message).toContain('Server config server.yaml is not valid')
    expect(message).toContain(expected)
  })

  it('fills defaults and strips a trailing slash from public_url', () => {
    const c = validateServerConfig({public_url: 'https://dbgate.example.com/'}, 'x')
    expect(c.publicUrl).toBe('https://dbgate.example.com')
    expect(c.tokens.access_ttl).toBe(600)
    expect(c.roles.user).toEqual(['*'])
  })

  it('loads examples/server.yaml', () => {
    const c = loadServerConfig(join(ROOT, 'examples', 'server.yaml'))
    expect(c.dev?.users.map((u) => u.username)).toEqual(['alice', 'bob'])
    expect(c.targets.map((t) => [t.name, t.protocol])).toEqual([
      ['local-pg', 'postgres'],
      ['local-mariadb', 'mysql'],
    ])
  })

  it('reports a missing file and bad YAML', () => {
    expect(() => loadServerConfig('/nonexistent/server.yaml')).toThrow(/cannot read the file/)
  })

  it('--dev adds default users and an admin group unless the file names them', () => {
    const c = withDevMode(validateServerConfig({}, 'x'), true)
    expect(c.dev?.users.map((u) => u.username)).toEqual(['alice', 'bob', 'carol'])
    expect(c.roles.admin).toEqual(['admins'])
    expect(() =>
      withDevMode(validateServerConfig({oidc: {issuer: 'https://i', client_id: 'c'}}, 'x'), true),
    ).toThrow(ServerConfigError)
  })
})

describe('roles', () => {
  const table = {admin: ['ops'], approver: ['leads', 'ops'], auditor: [], user: ['*']}
  it.each([
    [[], ['user']],
    [['ops'], ['user', 'approver', 'admin']],
    [
      ['leads', 'x'],
      ['user', 'approver'],
    ],
  ])('%j → %j', (groups, roles) => expect(rolesFor(groups, table)).toEqual(roles))
})

describe('loopback redirect URIs', () => {
  it.each([
    ['http://127.0.0.1:53682/callback', true],
    ['http://localhost:1/cb?x=1', true],
    ['http://[::1]:8080/cb', true],
    ['http://127.0.0.1/cb', true],
    ['https://127.0.0.1:53682/callback', false],
    ['http://127.0.0.1.evil.example/cb', false],
    ['http://user@127.0.0.1:1/cb', false],
    ['http://127.0.0.1:1/cb#frag', false],
    ['http://10.0.0.1:1/cb', false],
    ['not a url', false],
  ])('%s → %s', (uri, ok) => expect(isLoopbackRedirect(uri)).toBe(ok))
})

describe('user codes and listen addresses', () => {
  it.each([
    ['bcdf-ghjk', 'BCDFGHJK'],
    [' BCDF GHJK ', 'BCDFGHJK'],
    ['BCDFGHJK', 'BCDFGHJK'],
    ['BCDF-GHJ', undefined],
    ['BCDF-GHJ1', undefined],
  ])('%s → %s', (input, out) => expect(normaliseUserCode(input)).toBe(out))
  it('displays with a dash', () => expect(displayUserCode('BCDFGHJK')).toBe('BCDF-GHJK'))
  it.each([
    ['127.0.0.1:8787', {host: '127.0.0.1', port: 8787}],
    ['[::1]:0', {host: '::1', port: 0}],
    [':9000', {host: '127.0.0.1', port: 9000}],
    ['9000', {host: '127.0.0.1', port: 9000}],
  ])('listen %s', (text, out) => expect(parseListen(text)).toEqual(out))
  it.each(['host', '1.2.3.4:99999', 'a:b'])('refuses listen %s', (text) =>
    expect(() => parseListen(text)).toThrow(/--listen/),
  )
})

describe('docs/openapi.json', () => {
  it('is what the route schemas generate (regenerate: dbgate server openapi > docs/openapi.json)', async () => {
    const doc = await openApiDocument()
    const committed = JSON.parse(readFileSync(join(ROOT, 'docs', 'openapi.json'), 'utf8')) as unknown
    expect(committed).toEqual(JSON.parse(JSON.stringify(doc)))
    const paths = Object.keys(doc.paths as object)
    expect(paths).toContain('/auth/token')
    expect(paths).toContain('/api/v1/admin/targets')
    expect(paths.some((p) => p.startsWith('/dev-idp'))).toBe(false)
  })
})
