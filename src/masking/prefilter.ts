/**
 * The hot path's first look at a field: one pass over its bytes, driven by a byte-class table, that
 * decides which classifiers could possibly match, so ordinary text ("Blue ceramic mug, 350 ml"), hex
 * digests and ids are passed over without a string, a regex or an allocation. It only ever says
 * "maybe": the classifiers decide. Lower-case letters, the most common bytes, cost one table look-up.
 *
 * - email: an `@`;
 * - ssn and phone: a run of 9+ digits (separators `space - . ( ) +` continue a run) that is not glued
 *   to a word on its left without a separator in it;
 * - credit_card: the same with 13+ digits;
 * - iban: two upper-case letters then two digits;
 * - secret: a token's tell-tale (`AKIA ASIA AIza SG. eyJ`, `gh?_ sk_ rk_ npm_ pat_`, `xox?- glpat- sk-
 *   pypi-`, `--`, `://`), or a credential key word (`pas pwd sec key tok api`, any case) that a `:` or
 *   `=` follows within a key name's reach.
 */
import {BIT} from './spans.js'

const SSN_PHONE = BIT.ssn | BIT.phone

const BORING = 0
const DIGIT = 1
const SEP = 2
const DASH = 3
const AT = 4
const ASSIGN = 5
const UPPER = 6
const UNDERSCORE = 7

const CLASS = new Uint8Array(256)
for (let c = 48; c <= 57; c++) CLASS[c] = DIGIT
for (const c of ' .()+') CLASS[c.charCodeAt(0)] = SEP
CLASS[45] = DASH
CLASS[64] = AT
CLASS[58] = ASSIGN
CLASS[61] = ASSIGN
for (let c = 65; c <= 90; c++) CLASS[c] = UPPER
CLASS[95] = UNDERSCORE

/** The subset of `wanted` (classifier bits) whose classifiers are worth running on `b`. */
export function prefilter(b: Uint8Array, wanted: number): number {
  let found = 0
  let run = 0
  // A run glued to a word on its left with no separator in it (hex digests, ids like `x123456789`) can
  // hold no card, SSN or phone: each needs a boundary or a separator.
  let blind = false
  let assign = false
  const n = b.length
  for (let i = 0; i < n; i++) {
    const c = b[i]!
    switch (CLASS[c]!) {
      case BORING:
        run = 0
        break
      case DIGIT:
        if (run++ === 0) blind = gluedLeft(b, i)
        if (blind) break
        if (run >= 13) found |= SSN_PHONE | BIT.credit_card
        else if (run >= 9) found |= SSN_PHONE
        break
      case SEP:
        blind = false
        break
      case DASH:
        blind = false
        if (b[i + 1] === 45 || dashToken(b, i)) found |= BIT.secret
        break
      case AT:
        run = 0
        found |= BIT.email
        break
      case ASSIGN:
        run = 0
        assign = true
        if (c === 58 && b[i + 1] === 47 && b[i + 2] === 47) found |= BIT.secret
        break
      case UPPER:
        run = 0
        if (upperDigitDigit(b, i)) found |= BIT.iban
        if (upperToken(b, i, c)) found |= BIT.secret
        break
      case UNDERSCORE:
        run = 0
        if (underscoreToken(b, i)) found |= BIT.secret
        break
    }
  }
  if (assign && (wanted & BIT.secret) !== 0 && (found & BIT.secret) === 0 && credentialWord(b))
    found |= BIT.secret
  return found & wanted
}

/** A letter or `_` before `i`, and not a JSON escape letter (`\n4111...`). */
function gluedLeft(b: Uint8Array, i: number): boolean {
  const p = b[i - 1] ?? 0
  const letter = ((p | 0x20) >= 97 && (p | 0x20) <= 122) || p === 95
  return letter && b[i - 2] !== 92
}

function upperDigitDigit(b: Uint8Array, i: number): boolean {
  const u = b[i + 1] ?? 0
  const d1 = b[i + 2] ?? 0
  const d2 = b[i + 3] ?? 0
  return u >= 65 && u <= 90 && d1 >= 48 && d1 <= 57 && d2 >= 48 && d2 <= 57
}

/** `AKIA`, `ASIA`, `AIza` at an `A`; `SG.` at an `S`; `eyJ` ending at a `J`. */
function upperToken(b: Uint8Array, i: number, c: number): boolean {
  const n1 = b[i + 1]
  if (c === 65) return n1 === 75 || n1 === 83 || n1 === 73
  if (c === 83) return n1 === 71 && b[i + 2] === 46
  return c === 74 && b[i - 1] === 121 && b[i - 2] === 101
}

/** `gh?_`, `sk_`, `rk_`, `npm_`, `pat_` ending at an underscore. */
function underscoreToken(b: Uint8Array, i: number): boolean {
  const p1 = b[i - 1]
  const p2 = b[i - 2]
  return (
    (p2 === 104 && b[i - 3] === 103) || // gh?_
    (p1 === 107 && (p2 === 115 || p2 === 114)) || // sk_ rk_
    (p1 === 109 && p2 === 112 && b[i - 3] === 110) || // npm_
    (p1 === 116 && p2 === 97 && b[i - 3] === 112) // pat_
  )
}

/** `xox?-`, `glpat-`, `sk-`, `pypi-` ending at a dash. */
function dashToken(b: Uint8Array, i: number): boolean {
  const p1 = b[i - 1]
  const p2 = b[i - 2]
  return (
    (p2 === 120 && b[i - 3] === 111 && b[i - 4] === 120) || // xox?-
    (p1 === 107 && p2 === 115) || // sk-
    (p1 === 116 && p2 === 97 && b[i - 3] === 112) || // (gl)pat-
    (p1 === 105 && p2 === 112 && b[i - 3] === 121) // pypi-
  )
}

/**
 * `pas`, `pwd`, `sec`, `key`, `tok`, `api` in any case, followed within a key name's reach (letters,
 * `_ - " '` and spaces) by `:` or `=`: `password=`, `"SecretAccessKey":`, not `/api/v2`.
 */
function credentialWord(b: Uint8Array): boolean {
  for (let i = 0; i + 2 < b.length; i++) {
    if (keyWordAt(b, i) && assignedAfter(b, i + 3)) return true
  }
  return false
}

function keyWordAt(b: Uint8Array, i: number): boolean {
  const c = b[i]! | 0x20
  const n1 = b[i + 1]! | 0x20
  const n2 = b[i + 2]! | 0x20
  switch (c) {
    case 112:
      return (n1 === 97 && n2 === 115) || (n1 === 119 && n2 === 100)
    case 115:
      return n1 === 101 && n2 === 99
    case 107:
      return n1 === 101 && n2 === 121
    case 116:
      return n1 === 111 && n2 === 107
    case 97:
      return n1 === 112 && n2 === 105
    default:
      return false
  }
}

function assignedAfter(b: Uint8Array, from: number): boolean {
  for (let j = from; j < b.length && j < from + 20; j++) {
    const c = b[j]!
    if (c === 58 || c === 61) return true
    const l = c | 0x20
    if (!((l >= 97 && l <= 122) || c === 95 || c === 45 || c === 34 || c === 39 || c === 32)) return false
  }
  return false
}
