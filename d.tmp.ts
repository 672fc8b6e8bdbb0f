import {analyzeMysql} from './src/policy/mysql/analyze.js'
for (const q of ['DELETE FROM payroll WHERE NOT ISNULL(id)', 'DELETE FROM payroll WHERE id IS NOT NULL', 'DELETE FROM payroll WHERE app.length(name) >= 0', 'DELETE FROM payroll WHERE `length`(name) >= 0']) {
  const a = analyzeMysql(q, {defaultSchema: 'app'})
  console.log(q, JSON.stringify(a.ok ? a.operations.map((o) => [o.where, o.notNull]) : a))
}
