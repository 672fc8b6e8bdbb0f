import {PostgresDriver} from './postgres.js'
import {SqliteDriver} from './sqlite.js'
import {SqlStore} from './sql-store.js'
import type {Store} from './store.js'

export type * from './store.js'
export {StoreConflictError} from './store.js'

/** Where the store lives: the embedded file in a data directory, or a PostgreSQL database. */
export type StoreLocation = {kind: 'sqlite'; dataDir: string} | {kind: 'postgres'; url: string}

/** Opens the store and applies pending migrations. */
export async function openStore(location: StoreLocation, now: number = Date.now()): Promise<Store> {
  switch (location.kind) {
    case 'sqlite':
      return SqlStore.open(new SqliteDriver(location.dataDir), now)
    case 'postgres':
      return SqlStore.open(new PostgresDriver(location.url), now)
  }
}
