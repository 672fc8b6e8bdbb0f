/**
 * Precision and recall on real-looking data: the benign corpus (product copy, addresses, log lines,
 * ids, hashes, versions, prices, SQL, base64 images...) must produce no detection at all, and every
 * value of the positive corpus (embedded in sentences, JSON and CSV) must be found, with its kind.
 */
import {readFileSync} from 'node:fs'

import {describe, expect, it} from 'vitest'

import {findSpans, type Classifier} from '../../src/masking/index.js'
import {ALL, found, TOKENS} from './masking-helpers.js'

const dir = new URL('../fixtures/masking/', import.meta.url)
const benign = readFileSync(new URL('benign.txt', dir), 'utf8').split('\n').filter(Boolean)
const positives = readFileSync(new URL('positives.jsonl', dir), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as {kind: Classifier; value: string; text: string})

describe('the benign corpus', () => {
  it('has at least 200 lines', () => {
    expect(benign.length).toBeGreaterThanOrEqual(200)
  })

  it('yields no detection on any line', () => {
    const falsePositives = benign.flatMap((line) => found(line).map((f) => `${f}  <<  ${line}`))
    expect(falsePositives).toEqual([])
  })

  it('yields no detection when read as one large text field', () => {
    expect(findSpans(benign.join('\n'), ALL)).toEqual([])
  })
})

describe('the positive corpus', () => {
  it('has at least 100 values of every kind', () => {
    expect(positives.length).toBeGreaterThanOrEqual(100)
    expect(new Set(positives.map((p) => p.kind))).toEqual(new Set(ALL))
  })

  it('finds every value, whole and with its kind', () => {
    const missed = positives.filter((p) => !found(p.text).includes(`${p.kind}:${p.value}`))
    expect(missed).toEqual([])
  })

  it('finds every value when all of them sit in one field', () => {
    const text = positives.map((p) => p.text).join('\n')
    const values = found(text)
    const missed = positives.filter((p) => !values.includes(`${p.kind}:${p.value}`))
    expect(missed).toEqual([])
  })

  it('finds every generated token format embedded in benign lines', () => {
    const missed = Object.entries(TOKENS).filter(([, token], i) => {
      const line = benign[(i * 7) % benign.length]!
      const text = `${line.slice(0, 20)} ${token} ${line.slice(20)}`
      return !found(text, ['secret']).includes(`secret:${token}`)
    })
    expect(missed).toEqual([])
  })
})
