// The parts of oidc-provider 8 (which ships no types) that the embedded development IdP uses.
declare module 'oidc-provider' {
  import type {IncomingMessage, ServerResponse} from 'node:http'

  export interface InteractionDetails {
    uid: string
    prompt: {name: string; reasons: string[]; details: Record<string, unknown>}
    params: Record<string, unknown>
    session?: {accountId?: string}
    grantId?: string
  }

  export interface GrantInstance {
    addOIDCScope(scope: string): void
    save(): Promise<string>
  }

  export interface KoaContextWithOIDC {
    oidc: {
      client?: {clientId: string}
      session?: {accountId?: string; grantIdFor(clientId: string): string | undefined}
      result?: {consent?: {grantId?: string}}
    }
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>)
    callback(): (req: IncomingMessage, res: ServerResponse) => unknown
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: {mergeWithLastSubmission?: boolean},
    ): Promise<string>
    Grant: {
      new (init: {clientId: string; accountId: string}): GrantInstance
      find(id: string): Promise<GrantInstance | undefined>
    }
    on(event: string, listener: (...args: unknown[]) => void): this
  }
}
