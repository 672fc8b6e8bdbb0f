/** Literal-abstracting cache keys per dialect: statements that differ only in literal values share one. */
import type {Dialect} from '../types.js'
import {normalizeMysql, scanMysql} from './mysql.js'
import {normalizePostgres, scanPostgres} from './postgres.js'
import type {ShapeScan} from './shape.js'

export {normalizeMysql, scanMysql} from './mysql.js'
export {normalizePostgres, scanPostgres} from './postgres.js'
export {hashText, ShapeScan, type ShapeKey} from './shape.js'

/** The literal-abstracted form of a query, or null when the dialect's lexer is not certain of it. */
export function normalize(sql: string, dialect: Dialect): string | null {
  switch (dialect) {
    case 'postgres':
      return normalizePostgres(sql)
    case 'mysql':
      return normalizeMysql(sql)
  }
}

/** Finds the spans of a query's key into `scan` (see ShapeScan); false when it cannot be keyed. */
export function scan(sql: string, dialect: Dialect, into: ShapeScan): boolean {
  switch (dialect) {
    case 'postgres':
      return scanPostgres(sql, into)
    case 'mysql':
      return scanMysql(sql, into)
  }
}
