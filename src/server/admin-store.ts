import {join} from 'node:path'

import {Flags} from '@oclif/core'

import {resolvePaths} from '../config/index.js'
import {openStore, type Store} from './store/index.js'

/**
 * How the server-admin commands (`dbgate server tokens ...`) reach the store: directly, with the same
 * --data / --database-url as `server start`, so they work whether or not the server is running.
 */

/** The --data and --database-url flags. */
export const storeFlags = {
  data: Flags.string({
    description: "the server's data directory (embedded store)",
    env: 'DBGATE_SERVER_DATA',
  }),
  'database-url': Flags.string({description: "the server's PostgreSQL store", env: 'DBGATE_DATABASE_URL'}),
}

/** Opens the store, runs `fn`, closes it. */
export async function withStore<T>(
  flags: {data?: string | undefined; 'database-url'?: string | undefined},
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const url = flags['database-url']
  const dataDir = flags.data ?? join(resolvePaths().stateDir, 'server')
  // Only the store: loading the HTTP stack would slow every admin command down for nothing.
  const store = await openStore(url ? {kind: 'postgres', url} : {kind: 'sqlite', dataDir})
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}
