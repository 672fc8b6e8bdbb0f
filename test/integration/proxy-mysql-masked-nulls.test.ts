/**
 * MySQL: a value computed from a masked column is masked NULL included, so whether it is NULL answers
 * nothing (`IF(email = 'alice@...', email, NULL)` was NULL for every other row), in the text protocol
 * and the binary one (prepared statements, where NULL is a bit of the row's bitmap); a stored column
 * passed on whole keeps its NULL, which `IS NULL` looks up anyway.
 */
import mysql from 'mysql2/promise'
import {describe, expect, it} from 'vitest'

import type {Policy} from '../../src/policy/index.js'
import {mysqlProxyFixture, mysqlTestPolicy} from '../support/mysql-proxy.js'

const SETUP = (db: string): string => `
CREATE TABLE \`${db}\`.users (id INT PRIMARY KEY, email VARCHAR(100), note TEXT);
INSERT INTO \`${db}\`.users VALUES (1, 'alice.null@example.com', 'first'), (2, NULL, 'second'), (3, 'a@b.c', 'third');
`

const policyFor = (db: string): Policy => ({
  ...mysqlTestPolicy(db),
  masking: [{name: 'pii-email', columns: [`${db}.users.email`], style: 'redact'}],
})

const {db, proxy} = mysqlProxyFixture('masked_nulls', {setup: SETUP, policy: policyFor})

function connect(): Promise<mysql.Connection> {
  return mysql.createConnection({host: '127.0.0.1', port: proxy.port, user: 'root', database: db.name})
}

const PROBE =
  "SELECT id, IF(email = 'alice.null@example.com', email, NULL) AS f, email, note FROM users WHERE id < 3 ORDER BY id"

describe("a computed value's NULL", () => {
  it('is masked as a value in text and binary rows; a stored column keeps its NULL', async () => {
    const c = await connect()
    try {
      const [text] = await c.query(PROBE)
      // A prepared statement's rows come in the binary protocol.
      const [binary] = await c.execute(PROBE)
      const expected = [
        {id: 1, f: '[REDACTED]', email: '[REDACTED]', note: 'first'},
        // Bob's email is NULL: passed on whole it stays NULL; IF(...) is masked like any value.
        {id: 2, f: '[REDACTED]', email: null, note: 'second'},
      ]
      expect(text).toEqual(expected)
      expect(binary).toEqual(expected)
    } finally {
      await c.end()
    }
  })
})

describe('a masked row of another number of 16 MB parts', () => {
  it('arrives whole, and so do the packets after it (their sequence ids follow)', async () => {
    // Each value's length moves the row across the 16 MB part boundary: alice's row has two parts and
    // masked one, a@b.c's one and masked two. Refusing either (as before) showed the value's length.
    const c = await connect()
    try {
      for (const [pad, id] of [
        [16777190, 1],
        [16777196, 3],
      ] as const) {
        const sql = `SELECT REPEAT('x', ${pad}) AS pad, email, 'after' AS tail FROM users WHERE id IN (${id}, 2) ORDER BY id`
        const [rows] = await c.query<mysql.RowDataPacket[]>(sql)
        const shown = rows.map((r): unknown[] => [(r.pad as string).length, r.email, r.tail])
        const masked = [pad, '[REDACTED]', 'after']
        expect(shown).toEqual(id === 1 ? [masked, [pad, null, 'after']] : [[pad, null, 'after'], masked])
        // The session goes on.
        const [[one]] = await c.query<mysql.RowDataPacket[]>('SELECT 1 AS one')
        expect(one).toEqual({one: 1})
      }
    } finally {
      await c.end()
    }
  })
})
