/**
 * A promise-based message reader for the short conversational phases (client startup, upstream
 * authentication), before the relay takes the socket over with its own dispatchers.
 */
import type {Socket} from 'node:net'

import {FrameError, Framer} from './framing.js'

/** One framed message. */
export interface Frame {
  readonly type: number
  readonly frame: Buffer
}

/** The peer closed, failed, or took too long during a conversational phase. */
export class ReaderClosedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ReaderClosedError'
  }
}

/** Reads one message at a time from a socket; `detach()` hands the socket back with unread bytes. */
export class MessageReader {
  private readonly framer: Framer
  private current: Frame | undefined
  private failure: Error | undefined
  private waiter: ((err?: Error) => void) | undefined
  private readonly onData = (chunk: Buffer): void => {
    try {
      this.framer.push(chunk)
    } catch (err) {
      this.fail(err instanceof Error ? err : new FrameError(String(err), '08P01'))
    }
    if (this.current !== undefined) this.socket.pause()
    this.wake()
  }
  private readonly onEnd = (): void => this.fail(new ReaderClosedError('the connection was closed'))
  private readonly onError = (err: Error): void => this.fail(err)

  constructor(
    private readonly socket: Socket,
    options: {maxMessageBytes: number; startup?: boolean},
  ) {
    this.framer = new Framer(options, (type, frame) => {
      this.current = {type, frame}
      return false
    })
    socket.on('data', this.onData)
    socket.on('end', this.onEnd)
    socket.on('close', this.onEnd)
    socket.on('error', this.onError)
  }

  /** Leaves the startup phase of the framer (typed messages from now on). */
  endStartup(): void {
    this.framer.endStartup()
  }

  /** The next message; rejects on close, error, malformed input or timeout. */
  async next(timeoutMs: number): Promise<Frame> {
    for (;;) {
      const ready = this.take()
      if (ready !== undefined) return ready
      if (this.failure !== undefined) throw this.failure
      this.socket.resume()
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiter = undefined
          reject(new ReaderClosedError(`no message within ${Math.round(timeoutMs / 1000)} s`))
        }, timeoutMs)
        this.waiter = () => {
          clearTimeout(timer)
          this.waiter = undefined
          resolve()
        }
      })
    }
  }

  /** Stops reading and returns the bytes received but not yet read, in order. */
  detach(): Buffer[] {
    this.socket.off('data', this.onData)
    this.socket.off('end', this.onEnd)
    this.socket.off('close', this.onEnd)
    this.socket.off('error', this.onError)
    this.socket.pause()
    return this.framer.takeRemaining()
  }

  private take(): Frame | undefined {
    const ready = this.current
    if (ready === undefined) {
      if (this.framer.isStopped) this.framer.resume()
      return this.current === undefined ? undefined : this.take()
    }
    this.current = undefined
    return ready
  }

  private fail(err: Error): void {
    this.failure ??= err
    this.wake()
  }

  private wake(): void {
    this.waiter?.()
  }
}
