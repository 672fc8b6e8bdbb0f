import {describe, expect, it} from 'vitest'

import {
  ARG_CHARS,
  isSecretName,
  MAX_ARGS,
  RECORD_CHARS,
  REDACTED_ARG as R,
  redactArgv,
  SCAN_CHARS,
  safeCmdlines,
} from '../../src/audit/cmdline-redact.js'

const redact = (argv: string[]) => redactArgv(argv).argv
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U'

describe('command-line redaction', () => {
  it.each([
    [
      ['psql', 'postgresql://alice:s3cret@db.example.com:5432/app'],
      ['psql', `postgresql://alice:${R}@db.example.com:5432/app`],
    ],
    [
      ['redis-cli', '-u', 'redis://:pa55@cache:6379/0'],
      ['redis-cli', '-u', `redis://:${R}@cache:6379/0`],
    ],
    [
      ['mysql', '-uroot', '-ps3cret', '-h', 'db', 'app'],
      ['mysql', '-uroot', `-p${R}`, '-h', 'db', 'app'],
    ],
    [
      ['/usr/bin/mariadb-dump', '-phunter', 'db'],
      ['/usr/bin/mariadb-dump', `-p${R}`, 'db'],
    ],
    [
      ['mysql', '--password=s3cret', '--user', 'bob'],
      ['mysql', `--password=${R}`, '--user', 'bob'],
    ],
    [
      ['tool', '--password', 's3cret', '--host', 'h'],
      ['tool', '--password', R, '--host', 'h'],
    ],
    [
      ['tool', '--api-key=k1', '--dbToken', 'tok', '-pass', 'pw'],
      ['tool', `--api-key=${R}`, '--dbToken', R, '-pass', R],
    ],
    [
      ['tool', '--client-secret', 'abc', '--credentials=x'],
      ['tool', '--client-secret', R, `--credentials=${R}`],
    ],
    [
      ['env', 'PGPASSWORD=hunter', 'MYSQL_PWD=x', 'psql'],
      ['env', `PGPASSWORD=${R}`, `MYSQL_PWD=${R}`, 'psql'],
    ],
    [
      ['docker', 'run', '-e', `AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`, 'img'],
      ['docker', 'run', '-e', `AWS_SECRET_ACCESS_KEY=${R}`, 'img'],
    ],
  ])('redacts the value of %j', (argv, want) => {
    expect(redact(argv)).toEqual(want)
  })

  it('redacts inside a shell command, quoted values whole', () => {
    const cmd = 'export TOKEN=abc; PGPASSWORD=pw psql -h db --password "two words" -c "select 1"'
    expect(redact(['sh', '-c', cmd])).toEqual([
      'sh',
      '-c',
      `export TOKEN=${R}; PGPASSWORD=${R} psql -h db --password ${R} -c "select 1"`,
    ])
    expect(redact(['bash', '-c', 'mysql -uapp -pS3cr3t app < dump.sql'])[2]).toBe(
      `mysql -uapp -p${R} app < dump.sql`,
    )
    // A command that starts with an assignment stays readable; a lone assignment's value is taken whole.
    expect(redact(['sh', '-c', 'PGPASSWORD=pw psql -h db'])[2]).toBe(`PGPASSWORD=${R} psql -h db`)
    expect(redact(['sh', '-c', 'TOKEN=abc'])[2]).toBe(`TOKEN=${R}`)
    expect(redact(['env', 'TOKEN=two words', 'run'])).toEqual(['env', `TOKEN=${R}`, 'run'])
    // An unterminated quote runs to the end: nothing after it escapes.
    expect(redact(['sh', '-c', "psql --password 'a b c"])[2]).toBe(`psql --password ${R}`)
  })

  it('redacts header lines and bearer tokens', () => {
    expect(
      redact(['curl', '-H', 'Authorization: Bearer abcdefgh12345', '-H', 'X-Api-Key: k', 'https://x']),
    ).toEqual(['curl', '-H', `Authorization: ${R}`, '-H', `X-Api-Key: ${R}`, 'https://x'])
    expect(redact(['http', 'get', 'url', 'header=Bearer abcdefgh12345'])[3]).toBe(`header=Bearer ${R}`)
  })

  it('redacts secret-named members of a JSON argument, nested objects whole, and keeps the rest', () => {
    const env = JSON.stringify({
      AWS_SECRET_ACCESS_KEY: AWS_SECRET,
      PATH: '/usr/bin',
      HOME: '/home/a',
      nested: {secrets: {a: 'b'}, user: 'alice'},
      db_password: 'p"w',
    })
    const [, out] = redact(['launcher', env])
    expect(out).toBe(
      `{"AWS_SECRET_ACCESS_KEY":"${R}","PATH":"/usr/bin","HOME":"/home/a","nested":{"secrets":${R},"user":"alice"},"db_password":"${R}"}`,
    )
    expect(redact(['py', "{'api_key': 'k', 'region': 'eu'}"])[1]).toBe(`{'api_key': '${R}', 'region': 'eu'}`)
  })

  it('redacts whatever the masking secret classifier flags, wherever it stands', () => {
    const ghp = 'ghp_' + 'A1b2'.repeat(9)
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----'
    expect(redact(['node', 'x', ghp, `--header=x ${JWT}`, pem])).toEqual([
      'node',
      'x',
      R,
      `--header=x ${R}`,
      R,
    ])
    expect(redact(['psql', '-c', "select * from t where note = 'password=Hunter2!'"])[2]).toBe(
      `select * from t where note = 'password=${R}'`,
    )
  })

  it('writes one marker for a secret several rules find', () => {
    // The flag rule takes the whole value, the classifier the password after `://user:`.
    expect(redact(['tool', '--auth=https://u:Pw0rd-1@h/x'])).toEqual(['tool', `--auth=${R}`])
    expect(redact(['tool', 'see --password=Hunter2! here'])).toEqual(['tool', `see --password=${R} here`])
  })

  it('leaves ordinary arguments alone', () => {
    const argv = [
      '/usr/lib/postgresql/16/bin/psql',
      '-h',
      'db.internal',
      '-U',
      'alice',
      '-p',
      '5432',
      '-d',
      'app',
      '-c',
      'select id, name, email from users where id = 1 order by name',
      '--no-password',
      '-f',
      '/home/alice/reports/q1.sql',
      'postgresql://alice@db/app',
      '--keepalives=1',
      '--author=bob',
      'PATH=/usr/bin:/bin',
    ]
    expect(redact(argv)).toEqual(argv)
  })

  it('redacts an argument it cannot read whole (fails closed)', () => {
    const odd = ['psql', 42 as unknown as string, '-h', 'db']
    expect(redact(odd)).toEqual(['psql', R, '-h', 'db'])
  })

  it('reads -p<v> as a password only after a mysql/mariadb client', () => {
    expect(redact(['psql', '-p5432', '-h', 'db'])).toEqual(['psql', '-p5432', '-h', 'db'])
    expect(redact(['sh', '-c', 'psql -p5432 && mysql -pS3cret'])[2]).toBe(`psql -p5432 && mysql -p${R}`)
  })

  it('names credential words, not words that merely contain them', () => {
    for (const name of [
      'password',
      'PGPASSWORD',
      'db_pass',
      'apiKey',
      'x-api-key',
      'AUTH',
      'sessionToken',
      'MYSQL_PWD',
    ])
      expect(isSecretName(name), name).toBe(true)
    for (const name of [
      'keepalives',
      'author',
      'monkey',
      'bypass',
      'tokenizer',
      'no-password',
      'user',
      'host',
    ])
      expect(isSecretName(name), name).toBe(false)
  })

  it('reads only the first part of a huge argument, and says how much it cut', () => {
    const huge = `run --token=abc ${'x'.repeat(100_000)}`
    const {argv, cut} = redactArgv(['x', huge])
    expect(argv[1]!.startsWith(`run --token=${R} xxx`)).toBe(true)
    expect(argv[1]).toHaveLength(SCAN_CHARS - 'abc'.length + R.length)
    expect(cut).toEqual([0, huge.length - SCAN_CHARS])
  })
})

describe('command-line bounds', () => {
  it('truncates a long argument with a marker saying how many characters were dropped', () => {
    const long = 'a'.repeat(ARG_CHARS + 300)
    const [[exe, arg]] = safeCmdlines([['x', long]]) as [[string, string]]
    expect(exe).toBe('x')
    expect(arg).toBe(`${'a'.repeat(ARG_CHARS)}...[+300 chars]`)
    // Counted from the original text, including what was never scanned.
    const [[, big]] = safeCmdlines([['x', 'b'.repeat(50_000)]]) as [[string, string]]
    expect(big).toBe(`${'b'.repeat(ARG_CHARS)}...[+${50_000 - ARG_CHARS} chars]`)
  })

  it('redacts before it truncates, so a cut never keeps part of a secret', () => {
    const arg = `${'p'.repeat(ARG_CHARS - 5)} --password=${'S3cret'.repeat(20)}`
    const [[, out]] = safeCmdlines([['sh', arg]]) as [[string, string]]
    expect(out).not.toMatch(/S3c/)
  })

  it(`keeps at most ${MAX_ARGS} arguments, naming how many more there were`, () => {
    const argv = Array.from({length: 40}, (_, i) => `arg${i}`)
    const [out] = safeCmdlines([argv]) as [string[]]
    expect(out).toHaveLength(MAX_ARGS)
    expect(out.slice(0, MAX_ARGS - 1)).toEqual(argv.slice(0, MAX_ARGS - 1))
    expect(out[MAX_ARGS - 1]).toBe(`[+${40 - MAX_ARGS + 1} args]`)
    expect(safeCmdlines([argv.slice(0, MAX_ARGS)])[0]).toEqual(argv.slice(0, MAX_ARGS))
  })

  it('shares one budget over the record, the client first, and keeps every argv[0]', () => {
    const fat = ['launcher', ...Array.from({length: 30}, () => 'z'.repeat(1000))]
    const out = safeCmdlines([['psql', '-h', 'db'], fat, fat, fat, ['/sbin/init-ish']])
    expect(out[0]).toEqual(['psql', '-h', 'db'])
    expect(out.map((c) => c[0])).toEqual(['psql', 'launcher', 'launcher', 'launcher', '/sbin/init-ish'])
    const chars = out.flat().reduce((n, a) => n + a.length, 0)
    expect(chars).toBeLessThan(RECORD_CHARS + 5 * (ARG_CHARS + 40))
    expect(out[3]).toEqual(['launcher', `[+30 args]`])
  })
})
