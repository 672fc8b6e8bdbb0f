/**
 * Parsing of Linux's /proc/net/tcp and /proc/net/tcp6 tables (untrusted text: every line is checked) and
 * of the bits of /proc/<pid>/status and cmdline the process lookup needs.
 */

/** One row of a /proc/net/tcp{,6} table. */
export interface TcpRow {
  readonly localAddress: string
  readonly localPort: number
  readonly remoteAddress: string
  readonly remotePort: number
  /** The kernel's state code: 1 is ESTABLISHED. */
  readonly state: number
  readonly inode: number
}

/** TCP_ESTABLISHED in the kernel's state numbering. */
export const TCP_ESTABLISHED = 1

/** Decodes one 32-bit word of a /proc address: hex of the bytes in host (little-endian) order. */
function wordBytes(hex: string): number[] {
  const v = Number.parseInt(hex, 16)
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]
}

/** Decodes a /proc address (8 hex digits for IPv4, 32 for IPv6) to text; IPv4-mapped IPv6 becomes IPv4. */
export function decodeProcAddress(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]+$/.test(hex)) return undefined
  if (hex.length === 8) return wordBytes(hex).join('.')
  if (hex.length !== 32) return undefined
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8)))
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff
  if (mapped) return bytes.slice(12).join('.')
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2)
    groups.push((((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16))
  return compressIpv6(groups)
}

/** Writes 8 hex groups in the shortest form (the longest run of zero groups as `::`). */
function compressIpv6(groups: string[]): string {
  let best = -1
  let bestLen = 1
  for (let i = 0; i < 8;) {
    let j = i
    while (j < 8 && groups[j] === '0') j++
    if (j - i > bestLen) [best, bestLen] = [i, j - i]
    i = j === i ? i + 1 : j
  }
  if (best < 0) return groups.join(':')
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`
}

/** The textual address in the form /proc decoding yields: IPv4-mapped IPv6 as IPv4, lower case. */
export function normaliseAddress(address: string): string {
  const a = address.toLowerCase()
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a
}

function endpoint(text: string | undefined): {address: string; port: number} | undefined {
  const m = /^([0-9A-Fa-f]+):([0-9A-Fa-f]{4})$/.exec(text ?? '')
  if (m === null) return undefined
  const address = decodeProcAddress(m[1] as string)
  return address === undefined ? undefined : {address, port: Number.parseInt(m[2] as string, 16)}
}

/**
 * Parses a /proc/net/tcp{,6} table, or any run of its whole lines; lines that do not have the expected shape
 * (the header among them) are skipped. With `port`, only
 * rows whose local or remote port is `port` are decoded (a busy host's table has thousands of rows, and the
 * lookup wants one): the others are passed over by a substring test.
 */
export function parseTcpTable(text: string, port?: number): TcpRow[] {
  const rows: TcpRow[] = []
  const wanted = port === undefined ? undefined : `:${port.toString(16).toUpperCase().padStart(4, '0')} `
  for (const line of text.split('\n')) {
    if (wanted !== undefined && !line.includes(wanted)) continue
    const f = line.trim().split(/\s+/)
    // The kernel writes more fields after the inode: a row that ends at it may have been cut inside it.
    if (f.length < 11 || !/^\d+:$/.test(f[0] as string)) continue
    const local = endpoint(f[1])
    const remote = endpoint(f[2])
    const state = Number.parseInt(f[3] as string, 16)
    const inode = Number(f[9])
    if (local === undefined || remote === undefined || !/^[0-9A-Fa-f]{2}$/.test(f[3] as string)) continue
    if (!Number.isSafeInteger(inode) || inode < 0) continue
    rows.push({
      localAddress: local.address,
      localPort: local.port,
      remoteAddress: remote.address,
      remotePort: remote.port,
      state,
      inode,
    })
  }
  return rows
}

/** The parent pid in a /proc/<pid>/status text; undefined when absent. */
export function parsePpid(status: string): number | undefined {
  const m = /^PPid:\s*(\d+)\s*$/m.exec(status)
  return m === null ? undefined : Number(m[1])
}

/** The argument vector of a /proc/<pid>/cmdline (NUL-separated, NUL-terminated). */
export function parseCmdline(raw: Buffer): string[] {
  const text = raw.toString('utf8')
  const parts = text.split('\0')
  if (parts[parts.length - 1] === '') parts.pop()
  return parts
}
