/**
 * Table-driven tests of each classifier: values it must find (in sentences, JSON, CSV, angle brackets,
 * URLs, with separators), values it must leave alone (checksum failures, invalid ranges, ids, versions,
 * amounts), and the boundaries between the two.
 */
import {describe, expect, it} from 'vitest'

import {found, TOKENS} from './masking-helpers.js'

describe('email', () => {
  it.each([
    ['mail alice@example.com today', 'alice@example.com'],
    ['<bob.smith+tag@mail.example.co.uk>', 'bob.smith+tag@mail.example.co.uk'],
    ['{"email":"carol@example.org"}', 'carol@example.org'],
    ['mailto:dave@example.net?subject=hi', 'dave@example.net'],
    ['https://example.com/u/erin@example.com/profile', 'erin@example.com'],
    ['"frank@example.com",42,active', 'frank@example.com'],
    ['{"note":"first line\\ngrace@example.com"}', 'grace@example.com'],
    ['{"note":"\\u00e9heidi@example.com"}', 'heidi@example.com'],
    ['renée.dubois@exemple.fr wrote', 'renée.dubois@exemple.fr'],
    ['SHOUT@EXAMPLE.COM', 'SHOUT@EXAMPLE.COM'],
    ['end of sentence: ivan@example.io.', 'ivan@example.io'],
    ["SELECT * FROM users WHERE email = 'judy@example.com'", 'judy@example.com'],
  ])('finds the address in %j', (text, value) => {
    expect(found(text, ['email'])).toEqual([`email:${value}`])
  })

  it.each([
    'logo@2x.png and sprite@3x.webp',
    'git@github.com:acme/app.git',
    'connect to db.internal@host.example.com:5432 please',
    'user@localhost',
    'npm i lodash@4.17.21 @types/node@20.11.5',
    'follow @alice and @bob',
    'alice%40example.com in a query string',
    'just an @ sign',
    'trailing dot.@example.com',
  ])('finds no address in %j', (text) => {
    expect(found(text, ['email'])).toEqual([])
  })
})

describe('credit_card', () => {
  it.each([
    ['Visa 4111111111111111 on file', '4111111111111111'],
    ['spaced 4111 1111 1111 1111, exp 12/28', '4111 1111 1111 1111'],
    ['dashed 5555-5555-5555-4444.', '5555-5555-5555-4444'],
    ['Amex 3782 822463 10005', '3782 822463 10005'],
    ['Amex 378282246310005', '378282246310005'],
    ['Diners 3056 930902 5904', '3056 930902 5904'],
    ['Visa-13 4222222222222', '4222222222222'],
    ['Mastercard 2-series 2223003122003222', '2223003122003222'],
    ['Discover 6011000990139424', '6011000990139424'],
    ['JCB 3530 1113 3330 0000', '3530 1113 3330 0000'],
    ['19 digits 4000 0000 0000 0000 006', '4000 0000 0000 0000 006'],
    ['{"card":4111111111111111}', '4111111111111111'],
    ['{"card":"\\n5105105105105100"}', '5105105105105100'],
    ['qty 2 4012 8888 8888 1881', '4012 8888 8888 1881'],
    ['café4242424242424242', '4242424242424242'],
  ])('finds the card in %j', (text, value) => {
    expect(found(text, ['credit_card'])).toEqual([`credit_card:${value}`])
  })

  it.each([
    ['Luhn failure', '4111 1111 1111 1112'],
    ['Luhn failure, unbroken', '5555555555554443'],
    ['no issuer starts with 1', '1234567812345670'],
    ['no issuer starts with 9', '9400 1000 0000 0000 0000 00'],
    ['Amex must have 15 digits', '3782 8224 6310 0054'],
    ['mixed separators', '4111 1111-1111 1111'],
    ['date-shaped groups', '2024-01-15 2024-01-16'],
    ['glued to letters', 'ORD4111111111111111'],
    ['glued to letters on the right', '4111111111111111abc'],
    ['part of a longer run', '41111111111111110000'],
    ['12 digits', '411111111111'],
    ['epoch milliseconds', '1710495687123'],
    ['double separators', '4111  1111  1111  1111'],
  ])('finds no card: %s', (_why, text) => {
    expect(found(text, ['credit_card'])).toEqual([])
  })
})

describe('ssn', () => {
  it.each([
    ['SSN 123-45-6789.', '123-45-6789'],
    ['{"ssn":"078-05-1120"}', '078-05-1120'],
    ['spaced 536 22 1234', '536 22 1234'],
    ['highest valid area 899-99-9999', '899-99-9999'],
    ['ssn: 123456789', '123456789'],
    ['{"ssn": 123456789}', '123456789'],
    ['SSN#536221234', '536221234'],
    ['Social Security Number 536221234', '536221234'],
  ])('finds the SSN in %j', (text, value) => {
    expect(found(text, ['ssn'])).toEqual([`ssn:${value}`])
  })

  it.each([
    ['area 000', '000-12-3456'],
    ['area 666', '666-12-3456'],
    ['area 9xx', '900-12-3456'],
    ['area 9xx (ITIN range)', '987-65-4321'],
    ['group 00', '123-00-4567'],
    ['serial 0000', '123-45-0000'],
    ['bare nine digits without a label', 'order 123456789 shipped'],
    ['label too far away', 'ssn was verified; the order number is 123456789'],
    ['labelled but invalid', 'ssn: 666123456'],
    ['part of a longer dashed id', 'ref 1-123-45-6789'],
    ['followed by more dashes', '123-45-6789-01'],
    ['a date', '2024-03-15'],
    ['ZIP+4', '94043-1351'],
    ['glued to letters', 'X123-45-6789'],
  ])('finds no SSN: %s', (_why, text) => {
    expect(found(text, ['ssn'])).toEqual([])
  })
})

describe('phone', () => {
  it.each([
    ['+1 (415) 555-2671'],
    ['+14155552671'],
    ['+44 20 7946 0958'],
    ['+33 1 42 68 53 00'],
    ['+81 3-1234-5678'],
    ['+49 30 901820'],
    ['(415) 555-2671'],
    ['415-555-2671'],
    ['415.555.2671'],
    ['415 555 2671'],
    ['1-800-555-0199'],
    ['020 7946 0958'],
    ['06 12 34 56 78'],
    ['0151 12345678'],
  ])('finds %s in a sentence and in JSON', (value) => {
    expect(found(`call ${value} today`, ['phone'])).toEqual([`phone:${value}`])
    expect(found(`{"phone":"${value}"}`, ['phone'])).toEqual([`phone:${value}`])
  })

  it.each([
    ['bare run of digits', 'id 4155552671'],
    ['epoch seconds', '1710495687'],
    ['ISO timestamp', '2024-03-15 10:23:45'],
    ['version number', 'v2.345.678.9012'],
    ['IPv4 address', '192.168.100.254'],
    ['amount with plus sign', '+12345678.90'],
    ['area code starting with 1', '123-555-2671'],
    ['exchange starting with 0', '415-055-2671'],
    ['mixed separators', '415-555.2671'],
    ['lottery draw', '04 11 23 35 42 49'],
    ['ISBN-10', '0-306-40615-2'],
    ['ISBN-13', '978-0-306-40615-7'],
    ['date with dots', '15.03.2024'],
    ['short national number', '030 12345'],
    ['too many digits', '+1 415 555 2671 1234 5678'],
    ['glued to letters', 'x415-555-2671'],
    ['timezone offset', 'UTC+05:30'],
  ])('finds no phone: %s', (_why, text) => {
    expect(found(text, ['phone'])).toEqual([])
  })
})

describe('iban', () => {
  it.each([
    'DE89 3704 0044 0532 0130 00',
    'DE89370400440532013000',
    'GB82 WEST 1234 5698 7654 32',
    'FR1420041010050500013M02606',
    'NL91ABNA0417164300',
    'NO9386011117947',
    'MT84MALT011000012345MTLCAST001S',
    'BE68 5390 0754 7034',
  ])('finds %s in text, JSON and CSV', (value) => {
    expect(found(`pay to ${value}, thanks`, ['iban'])).toEqual([`iban:${value}`])
    expect(found(`{"iban":"${value}"}`, ['iban'])).toEqual([`iban:${value}`])
    expect(found(`7,"${value}",EUR`, ['iban'])).toEqual([`iban:${value}`])
  })

  it.each([
    ['checksum failure', 'DE89 3704 0044 0532 0130 01'],
    ['wrong check digits', 'DE88370400440532013000'],
    ['too short for the country', 'DE89 3704 0044 0532 0130 0'],
    ['too long for the country', 'DE893704004405320130000'],
    ['unknown country', 'ZZ89370400440532013000'],
    ['lower case', 'de89370400440532013000'],
    ['glued to letters', 'XDE89370400440532013000'],
    ['double spaces', 'DE89  3704  0044  0532  0130  00'],
  ])('finds no IBAN: %s', (_why, text) => {
    expect(found(text, ['iban'])).toEqual([])
  })

  it('stops at the country length when a word follows', () => {
    expect(found('DE89 3704 0044 0532 0130 00 EUR', ['iban'])).toEqual(['iban:DE89 3704 0044 0532 0130 00'])
  })
})

describe('secret', () => {
  it.each(Object.entries(TOKENS))('finds %s in text and JSON', (_name, token) => {
    expect(found(`token ${token} here`, ['secret'])).toEqual([`secret:${token}`])
    const json = JSON.stringify({value: token})
    expect(found(json, ['secret'])).toEqual([`secret:${JSON.stringify(token).slice(1, -1)}`])
  })

  it.each([
    [
      'aws secret key by name',
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    ],
    [
      'aws secret key in JSON',
      '{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}',
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    ],
    ['URL password', 'postgres://app:s3cr3t-Pw@db.example.com:5432/app', 's3cr3t-Pw'],
    ['URL password without a user', 'redis://:s3cr3t-Pw@cache.example.com:6379/0', 's3cr3t-Pw'],
    ['password assignment', 'DB_PASSWORD=hunter2hunter2', 'hunter2hunter2'],
    ['password in JSON', '{"password": "Tr0ub4dor&3"}', 'Tr0ub4dor&3'],
    ['api key in a query string', 'GET /v1/items?api_key=9f8e7d6c5b4a&page=2', '9f8e7d6c5b4a'],
    ['client secret in YAML', 'client_secret: 0a1b2c3d4e5f6a7b8c9d', '0a1b2c3d4e5f6a7b8c9d'],
    [
      'PEM block without its END line',
      '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
      '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
    ],
  ])('finds the %s', (_why, text, value) => {
    expect(found(text, ['secret'])).toEqual([`secret:${value}`])
  })

  it('finds a PEM block inside a JSON string and stops at the string end', () => {
    const json = JSON.stringify({key: TOKENS.pem, next: 'visible'})
    const spans = found(json, ['secret'])
    expect(spans).toEqual([`secret:${JSON.stringify(TOKENS.pem).slice(1, -1)}`])
  })

  it.each([
    ['password with a word value', 'Password: required (min. 12 characters)'],
    ['token with a word value', 'token: expired'],
    ['key word without assignment', 'API key rotated on Monday'],
    ['placeholder', 'password=${DB_PASSWORD}'],
    ['already masked', 'password=********'],
    ['masked URL password', 'postgres://app:****@db.example.com/app'],
    [
      'certificate',
      '-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n-----END CERTIFICATE-----',
    ],
    [
      'public key',
      '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----',
    ],
    ['sk- slug without randomness', 'pip install sk-learn-extra-goodies-package-name'],
    ['git SHA', 'a94a8fe5ccb19ba61c4c0873d391e987982fbbd3'],
    ['sha256 digest', 'sha256:4c9e2b1f0a8d7e6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c'],
    ['UUID', '550e8400-e29b-41d4-a716-446655440000'],
    ['AKIA too short', 'AKIAIOSFODNN7EXAMP'],
    ['AKIA glued to a word', 'XAKIAIOSFODNN7EXAMPLE'],
    ['ghp_ too short', 'ghp_abc123'],
  ])('finds no secret: %s', (_why, text) => {
    expect(found(text, ['secret'])).toEqual([])
  })
})

describe('the combined scanner', () => {
  it('returns only the classifiers it was asked for', () => {
    const text = 'alice@example.com 4111 1111 1111 1111 123-45-6789'
    expect(found(text, ['ssn'])).toEqual(['ssn:123-45-6789'])
    expect(found(text, ['email', 'credit_card'])).toEqual([
      'email:alice@example.com',
      'credit_card:4111 1111 1111 1111',
    ])
    expect(found(text, [])).toEqual([])
  })

  it('keeps the outer kind when a value holds another (an IBAN holding card-like digits)', () => {
    // The BBAN digits 3704 0044 0532 0130 are not a card, but any inner find merges into the IBAN.
    expect(found('DE89 3704 0044 0532 0130 00')).toEqual(['iban:DE89 3704 0044 0532 0130 00'])
  })

  it('keeps the outer kind when one find holds another', () => {
    // The URL's password (a secret) is also the local part of something that looks like an email.
    const text = 'https://bob:pa55word@example.com/'
    expect(found(text, ['secret'])).toEqual(['secret:pa55word'])
    expect(found(text, ['email', 'secret'])).toEqual(['email:pa55word@example.com'])
  })

  it('merges the same value found by two classifiers into one mixed span', () => {
    const text = 'token=Zx9k2mQ7@example.com'
    expect(found(text, ['email', 'secret'])).toEqual(['mixed:Zx9k2mQ7@example.com'])
  })

  it('finds values around multi-byte UTF-8 text with string offsets', () => {
    const text = '日本語 alice@example.com 😀 4111111111111111 ✓'
    expect(found(text)).toEqual(['email:alice@example.com', 'credit_card:4111111111111111'])
  })
})
