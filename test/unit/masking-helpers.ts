/** Shared helpers of the masking tests: finding values by classifier, and token formats built at run time. */
import {findSpans, type Classifier} from '../../src/masking/index.js'

/** Every classifier. */
export const ALL: readonly Classifier[] = ['email', 'credit_card', 'ssn', 'phone', 'iban', 'secret']

/** What the scanner finds in `text`, as `kind:value` strings. */
export function found(text: string, classifiers: readonly Classifier[] = ALL): string[] {
  return findSpans(text, classifiers).map((s) => `${s.kind}:${text.slice(s.start, s.end)}`)
}

/** Deterministic pseudo-random characters from `alphabet` (an LCG seeded by `seed`). */
export function chars(seed: number, n: number, alphabet: string): string {
  let x = seed >>> 0
  let out = ''
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    out += alphabet[x % alphabet.length]
  }
  return out
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const B64URL = ALNUM + '-_'

/**
 * Credential-shaped values in each format the secret classifier knows. Built here rather than kept in a
 * fixture so no file of the repository looks like it holds a live credential to a secret scanner.
 */
export const TOKENS: Readonly<Record<string, string>> = {
  aws_access_key: 'AKIA' + chars(1, 16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'),
  aws_session_key: 'ASIA' + chars(2, 16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'),
  github_pat_classic: 'gh' + 'p_' + chars(3, 36, ALNUM),
  github_oauth: 'gh' + 'o_' + chars(4, 36, ALNUM),
  github_server: 'gh' + 's_' + chars(5, 36, ALNUM),
  github_fine: 'github' + '_pat_' + chars(6, 22, ALNUM) + '_' + chars(7, 59, ALNUM),
  gitlab: 'glp' + 'at-' + chars(8, 20, B64URL),
  slack_bot:
    'xo' +
    'xb-' +
    chars(9, 12, '0123456789') +
    '-' +
    chars(10, 13, '0123456789') +
    '-' +
    chars(11, 24, ALNUM),
  slack_user: 'xo' + 'xp-' + chars(12, 12, '0123456789') + '-' + chars(13, 32, ALNUM),
  stripe_live: 'sk' + '_live_' + chars(14, 24, ALNUM),
  stripe_restricted: 'rk' + '_live_' + chars(15, 24, ALNUM),
  stripe_test: 'sk' + '_test_' + chars(16, 24, ALNUM),
  google_api: 'AI' + 'za' + chars(17, 35, B64URL),
  npm: 'np' + 'm_' + chars(18, 36, ALNUM),
  openai_legacy: 'sk' + '-' + chars(19, 48, ALNUM),
  openai_project: 'sk' + '-proj-' + chars(20, 64, B64URL) + 'A1a',
  sendgrid: 'SG' + '.' + chars(21, 22, B64URL) + '.' + chars(22, 43, B64URL),
  jwt:
    'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.' +
    'eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.' +
    chars(23, 43, B64URL),
  pem:
    '-----BEGIN RSA PRIVATE KEY-----\n' +
    chars(24, 64, ALNUM + '+/') +
    '\n' +
    chars(25, 64, ALNUM + '+/') +
    '\n-----END RSA PRIVATE KEY-----',
}
