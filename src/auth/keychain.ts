/**
 * The OS keychain through @napi-rs/keyring (the keytar API, maintained, prebuilt): macOS Keychain, Windows
 * Credential Manager, and the Secret Service (GNOME Keyring, KWallet) on Linux.
 */
import {Entry, type EntryOptions} from '@napi-rs/keyring'

/** The keychain service name every dbgate entry lives under; the account is the API URL. */
export const KEYCHAIN_SERVICE = 'dbgate'

/** The three keychain operations the token store needs; tests substitute a failing one. */
export interface KeychainBackend {
  /** The secret stored for an account, or null when there is none. Throws when no keychain is reachable. */
  get(account: string): string | null
  /** Stores (replaces) the secret of an account. */
  set(account: string, secret: string): void
  /** Deletes an account's secret; false when there was none. */
  delete(account: string): boolean
}

// On Linux the library's default silently falls back to the kernel keyring, which forgets everything at
// reboot and is shared across containers of one uid: we want the Secret Service or, failing that, our file.
const ENTRY_OPTIONS: EntryOptions = {linux: {store: 'secret-service'}}

/** Runs a keyring call, retrying once: on Linux the first entry of a process can fail spuriously. */
function once<T>(call: () => T): T {
  try {
    return call()
  } catch {
    return call()
  }
}

/** The real OS keychain. */
export const osKeychain: KeychainBackend = {
  get: (account) => once(() => new Entry(KEYCHAIN_SERVICE, account, ENTRY_OPTIONS).getPassword()),
  set: (account, secret) =>
    once(() => new Entry(KEYCHAIN_SERVICE, account, ENTRY_OPTIONS).setPassword(secret)),
  delete: (account) => once(() => new Entry(KEYCHAIN_SERVICE, account, ENTRY_OPTIONS).deletePassword()),
}
