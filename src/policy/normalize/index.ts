/** Literal-abstracting cache keys per dialect: statements that differ only in literal values share one. */
import type {Dialect} from '../types.js'
import {normalizeMysql} from './mysql.js'
import {normalizePostgres} from './postgres.js'

export {normalizeMysql} from './mysql.js'
export {normalizePostgres} from './postgres.js'

/** The literal-abstracted form of a query, or null when the dialect's lexer is not certain of it. */
export function normalize(sql: string, dialect: Dialect): string | null {
  switch (dialect) {
    case 'postgres':
      return normalizePostgres(sql)
    case 'mysql':
      return normalizeMysql(sql)
  }
}
