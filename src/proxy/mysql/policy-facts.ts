/** Facts the MySQL engine's configuration takes from a policy. */
import type {Policy} from '../../policy/index.js'

/** mysql2 and the mysql client send queries up to max_allowed_packet: 16 MB by default. */
export const MAX_QUERY_BYTES_DEFAULT = 16 * 1024 * 1024

/**
 * LOAD DATA LOCAL INFILE reads a file on the client's machine: it is offered only when some rule
 * explicitly allows the `copy` kind (the default action never enables it).
 */
export function allowsLocalInfile(policy: Policy): boolean {
  return policy.rules.some((r) => r.action === 'allow' && (r.when.kinds ?? []).includes('copy'))
}
