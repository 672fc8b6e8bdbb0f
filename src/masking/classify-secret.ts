/**
 * `secret`: credentials in formats that announce themselves, plus values assigned to credential keys.
 *
 * - tokens by prefix: AWS access key ids (`AKIA`/`ASIA` + 16), GitHub (`ghp_ gho_ ghs_ ghu_ ghr_` + 36+,
 *   `github_pat_`), GitLab `glpat-`, Slack `xox[abprs]-`, Stripe `sk_/rk_` + `live_/test_`, Google API
 *   keys `AIza` + 35, npm `npm_` + 36, OpenAI/Anthropic-style `sk-...` (20+ characters mixing upper,
 *   lower and digits), SendGrid `SG.x.y`, PyPI `pypi-AgE...`;
 * - JWTs (`eyJ...` `.eyJ...` `.signature`) and PEM private-key blocks, BEGIN through END (or to the
 *   end of the base64 when the END line is missing);
 * - values in context: an AWS secret key (40 base64 characters) after `aws_secret_access_key` /
 *   `SecretAccessKey`; the password of a URL (`scheme://user:PASSWORD@host`); the value assigned to
 *   `password`, `passwd`, `pwd`, `secret`, `api_key`, `token`, `access_token`, `client_secret`... with
 *   `=` or `:` when it is 6+ characters holding a letter and a digit or symbol (so `password: required`
 *   and `token: expired` stay). Only the value is a span, never the key.
 * Long base64 or hex blobs are NOT secrets here: hashes, ids and images look the same.
 */
import {BIT, type RawSpan} from './spans.js'
import {LB} from './text.js'

/** A pattern and, for context patterns, the capture group that holds the secret itself. */
interface SecretPattern {
  readonly re: RegExp
  readonly group?: readonly number[]
  readonly check?: (value: string) => boolean
}

const NB = String.raw`(?![0-9A-Za-z_-])`
const g = (src: string, flags = 'g') => new RegExp(src, flags)
const KEY_NAMES =
  String.raw`pass(?:word|wd)?|pwd|secret|client[_-]?secret|api[_-]?key|apikey|access[_-]?key|` +
  String.raw`(?:access|auth|refresh|bearer)[_-]?token|token|private[_-]?key|secret[_-]?key`

/** At least one upper-case letter, one lower-case letter and one digit: random, not a word slug. */
function mixed(v: string): boolean {
  return /[A-Z]/.test(v) && /[a-z]/.test(v) && /[0-9]/.test(v)
}

/** A password-like value: a letter plus a digit or symbol, and not a placeholder or an earlier mask. */
function passwordLike(v: string): boolean {
  return /[A-Za-z]/.test(v) && /[^A-Za-z]/.test(v) && !/^[*x#.]+$/i.test(v) && !v.startsWith('$')
}

const PATTERNS: readonly SecretPattern[] = [
  {re: g(String.raw`${LB}(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])`)},
  {re: g(String.raw`${LB}gh[pousr]_[A-Za-z0-9]{36,251}${NB}`)},
  {re: g(String.raw`${LB}github_pat_[A-Za-z0-9_]{22,244}${NB}`)},
  {re: g(String.raw`${LB}(?<!-)glpat-[A-Za-z0-9_-]{20,64}${NB}`)},
  {re: g(String.raw`${LB}(?<!-)xox[abprs]-[A-Za-z0-9-]{10,250}${NB}`)},
  {re: g(String.raw`${LB}[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}${NB}`)},
  {re: g(String.raw`${LB}(?<!-)AIza[0-9A-Za-z_-]{35}${NB}`)},
  {re: g(String.raw`${LB}npm_[A-Za-z0-9]{36}${NB}`)},
  {
    re: g(String.raw`${LB}(?<!-)sk-(?:proj-|svcacct-|admin-|ant-(?:api03-)?)?([A-Za-z0-9_-]{20,250})${NB}`),
    check: mixed,
  },
  {re: g(String.raw`${LB}SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}${NB}`)},
  {re: g(String.raw`${LB}(?<!-)pypi-AgE[A-Za-z0-9_-]{50,400}${NB}`)},
  {re: g(String.raw`${LB}(?<!-)eyJ[A-Za-z0-9_-]{6,1000}\.eyJ[A-Za-z0-9_-]{6,8000}\.[A-Za-z0-9_-]{0,2000}`)},
  {
    // The body may hold escaped newlines (JSON) but never an unescaped quote (the end of a JSON string) nor a
    // `-----` line other than END: so each BEGIN looks no further than the next PEM line (linear on any text).
    re: g(
      String.raw`-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----(?:(?:[^"\\-]|\\[^]|-(?!----)){0,16384}` +
        String.raw`-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,-]*)`,
    ),
  },
  {
    re: g(
      String.raw`${LB}(?:aws[_-]?)?secret[_-]?access[_-]?key["']?\s{0,3}[:=]\s{0,3}["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])`,
      'gi',
    ),
    group: [1],
  },
  {
    // The user may be empty (`redis://:pw@host`: Redis and others authenticate by password alone).
    re: g(String.raw`[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@"'\\]{0,128}:([^\s/@"'\\]{1,256})(?=@)`),
    group: [1],
    check: (v) => !/^\*+$/.test(v),
  },
  {
    // A quoted value runs to its closing quote; a bare one stops where a query string or list goes on.
    re: g(
      String.raw`(?<![0-9]|(?<!\\)[A-Za-z])(?:${KEY_NAMES})["']?\s{0,3}[:=]\s{0,3}` +
        String.raw`(?:(["'])([^"'\\\r\n]{6,256})(?=\1)|([^\s"'\\,;&<>(){}\[\]]{6,256}))`,
      'gi',
    ),
    group: [2, 3],
    check: passwordLike,
  },
]

/** Appends the secrets of `s` to `out`. */
export function findSecrets(s: string, out: RawSpan[]): void {
  for (const p of PATTERNS) {
    p.re.lastIndex = 0
    for (let m = p.re.exec(s); m !== null; m = p.re.exec(s)) {
      const value =
        p.group === undefined ? m[0] : (p.group.map((i) => m[i]).find((v) => v !== undefined) ?? '')
      const checked = p.check === undefined || p.check(p.group === undefined ? (m[1] ?? value) : value)
      if (!checked || value.length === 0) continue
      const end = m.index + m[0].length
      out.push({start: end - value.length, end, bits: BIT.secret})
    }
  }
}
