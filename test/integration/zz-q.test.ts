import mysql from 'mysql2/promise'
import {afterAll, beforeAll, it} from 'vitest'
import {mysqlProxyFixture} from '../support/mysql-proxy.js'
const {db, proxy} = mysqlProxyFixture('mysql_zzq', {
  setup: (d) =>
    `CREATE TABLE \`${d}\`.items (id INT PRIMARY KEY, name VARCHAR(50) NOT NULL);` +
    `INSERT INTO \`${d}\`.items VALUES (1, 'apple'), (2, 'pear'), (3, 'plum')`,
})
let c: mysql.Connection
beforeAll(async () => { c = await mysql.createConnection({host: '127.0.0.1', port: proxy.port, user: 'root', database: db.name, multipleStatements: true}) })
afterAll(async () => { await c?.end() })
it('x', async () => {
  for (const q of ["UPDATE items AS i SET name = 'x' WHERE i.id IS NOT NULL", 'DELETE i FROM items i WHERE i.id IS NOT NULL', 'DELETE FROM items AS i WHERE i.id IS NOT NULL', `DELETE FROM \`${db.name}\`.items WHERE \`${db.name}\`.items.id IS NOT NULL`, 'DELETE FROM items WHERE `id` IS NOT NULL', 'DELETE FROM items WHERE ID IS NOT NULL', 'DELETE FROM items WHERE id IS NOT NULL AND name IS NOT NULL', 'DELETE FROM items WHERE NOT id IS NULL', 'DELETE FROM items WHERE NOT ISNULL(id)', 'DELETE FROM items WHERE id = id OR id IS NULL', 'DELETE FROM items WHERE id <> -99999999', 'DELETE FROM items WHERE name IS NOT NULL', 'DELETE FROM items WHERE id IS TRUE OR id IS NOT TRUE', 'DELETE FROM items WHERE COALESCE(id, 0) = COALESCE(id, 0)', 'DELETE FROM items WHERE IFNULL(id, 1)', 'DELETE FROM items WHERE id IN (SELECT id FROM items)', 'DELETE FROM items WHERE id LIKE \'%\'', "DELETE FROM items WHERE name LIKE '%'", "DELETE FROM items WHERE CONCAT(name, '') = name", 'DELETE FROM items WHERE name = name', 'DELETE FROM items WHERE LENGTH(name) >= 0', 'DELETE FROM items WHERE id > 0']) {
    await c.query('BEGIN')
    try { const [r] = await c.query(q); console.log('RAN', q, (r as mysql.ResultSetHeader).affectedRows) } catch (e) { console.log('ERR', q, (e as Error).message.slice(0, 70)) }
    await c.query('ROLLBACK')
  }
})
