/**
 * The responses a session still expects from the server, in order: one entry per forwarded message
 * that gets a response, plus synthetic responses (denials) waiting for their turn. This is how a
 * denial reaches the client after the server's answers to the messages sent before it.
 */
import {Backend} from './messages.js'
import type {MaskStatement} from './mask-session.js'
import type {Running} from '../session-audit.js'

/** What kind of response an entry waits for. */
export enum Expect {
  /** Parse → ParseComplete. */
  Parse,
  /** Bind → BindComplete. */
  Bind,
  /** Close → CloseComplete. */
  Close,
  /** Describe → RowDescription or NoData (after ParameterDescription for a statement). */
  Describe,
  /** Execute → CommandComplete, EmptyQueryResponse or PortalSuspended. */
  Execute,
  /** Sync → ReadyForQuery. */
  Sync,
  /** Query → results, then ReadyForQuery. */
  Query,
  /** FunctionCall → FunctionCallResponse, then ReadyForQuery. */
  FunctionCall,
  /** A synthetic response of the proxy, written when it reaches the head. */
  Inject,
}

/** One expected response. */
export interface Entry {
  readonly expect: Expect
  /** For Inject: builds the bytes when the entry reaches the head (so ReadyForQuery carries the current status). */
  readonly inject?: (() => Buffer) | undefined
  /** For Query, Execute and Parse: the statement, for the audit event. */
  readonly running?: Running | undefined
  /** For Query and Execute (and the Describe the proxy sends before such an Execute): its masking. */
  readonly mask?: MaskStatement | undefined
  /** The proxy sent the message itself: its response is the proxy's, never the client's. */
  readonly internal?: boolean
}

/** Entries without a statement are immutable: one shared instance per kind, none allocated per message. */
export const ENTRY = {
  bind: entry(Expect.Bind),
  close: entry(Expect.Close),
  describe: entry(Expect.Describe),
  sync: entry(Expect.Sync),
  execute: entry(Expect.Execute),
} as const

/** An entry; every entry has the same shape, so the dispatchers' property reads stay monomorphic. */
export function entry(
  expect: Expect,
  running?: Running,
  inject?: () => Buffer,
  mask?: MaskStatement,
  internal = false,
): Entry {
  return {expect, inject, running, mask, internal}
}

/** True when `type` (a server message) completes an entry of kind `expect`, errors aside. */
export function completes(expect: Expect, type: number): boolean {
  switch (expect) {
    case Expect.Parse:
      return type === Backend.ParseComplete
    case Expect.Bind:
      return type === Backend.BindComplete
    case Expect.Close:
      return type === Backend.CloseComplete
    case Expect.Describe:
      return type === Backend.RowDescription || type === Backend.NoData
    case Expect.Execute:
      return (
        type === Backend.CommandComplete ||
        type === Backend.EmptyQueryResponse ||
        type === Backend.PortalSuspended
      )
    case Expect.Sync:
    case Expect.Query:
    case Expect.FunctionCall:
      return type === Backend.ReadyForQuery
    case Expect.Inject:
      return false
  }
}

/** True for entries of the extended protocol, after whose error the server skips to the next Sync. */
export function isExtended(expect: Expect): boolean {
  return expect <= Expect.Execute
}

/** A FIFO queue of entries. */
export class Pipeline {
  private items: Entry[] = []
  private head = 0

  /** Number of entries waiting. */
  get length(): number {
    return this.items.length - this.head
  }

  /** The oldest entry, if any. */
  peek(): Entry | undefined {
    return this.items[this.head]
  }

  /** Appends an entry. */
  push(entry: Entry): void {
    this.items.push(entry)
  }

  /** Removes and returns the oldest entry. */
  shift(): Entry | undefined {
    const e = this.items[this.head]
    if (e === undefined) return undefined
    this.head++
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return e
  }

  /** Drops everything (the session is closing). */
  clear(): void {
    this.items = []
    this.head = 0
  }
}
