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
INSERT INTO \`${db}\`.users VALUES (1, 'alice.null@example.com', 'first'), (2, NULL, 'second');
`

const policyFor = (db: string): Policy => ({
  ...mysqlTestPolicy(db),
  masking: [{name: 'pii-email', columns: [`${db}.users.email`], style: 'redact'}],
})

const {db, proxy} = mysqlProxyFixture('masked_nulls', {setup: SETUP, policy: policyFor})

const PROBE =
  "SELECT id, IF(email = 'alice.null@example.com', email, NULL) AS f, email, note FROM users ORDER BY id"

describe("a computed value's NULL", () => {
  it('is masked as a value in text and binary rows; a stored column keeps its NULL', async () => {
    const c = await mysql.createConnection({
      host: '127.0.0.1',
      port: proxy.port,
      user: 'root',
      database: db.name,
    })
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
