import type {SessionActor, SignedBundle} from '../../control/api-types.js'
import {forbidden} from '../http-errors.js'
import type {LiveConfig} from './live-config.js'
import type {BundleSigner} from './signer.js'

/**
 * Issues signed bundles: the first config policy for the target and the caller's groups, with who the
 * caller is and how it acts, valid for `sessions.bundle_ttl`. No matching policy means no bundle, and so
 * no session: the guard never runs without a policy (fail closed).
 */

/** Whom a bundle is for. */
export interface BundleSubject {
  readonly sub: string
  readonly groups: readonly string[]
  readonly actor: SessionActor
  readonly agent: string | null
  readonly target: string
}

/** Builds and signs bundles. */
export class BundleIssuer {
  /** Creates the issuer. */
  constructor(
    private readonly live: LiveConfig,
    private readonly signer: BundleSigner,
    private readonly issuer: () => string,
  ) {}

  /** The public keys (`/.well-known/dbgate-bundle-keys.json`). */
  keys(): ReturnType<BundleSigner['keys']> {
    return this.signer.keys()
  }

  /** The signed bundle for a subject, or 403 when no policy applies. */
  issue(subject: BundleSubject, now: number): SignedBundle {
    const policy = this.live.policyFor(subject.target, subject.groups)
    if (!policy)
      throw forbidden(
        `no policy in the control plane's config applies to groups [${subject.groups.join(', ')}] on target "${subject.target}"; ask an admin to add one (policies: in the server config)`,
      )
    const ttl = this.live.config.sessions.bundle_ttl
    return this.signer.sign({
      v: 1,
      iss: this.issuer(),
      identity: subject.sub,
      groups: [...subject.groups],
      actor: subject.actor,
      agent: subject.agent,
      target: subject.target,
      policy_name: policy.name,
      policy_version: policy.version,
      policy: policy.document,
      issued_at: new Date(now).toISOString(),
      expires_at: new Date(now + ttl * 1000).toISOString(),
    })
  }
}
