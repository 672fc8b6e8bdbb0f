/**
 * A promise-based packet reader for the conversational phases (the client's handshake, upstream
 * authentication), before the relay takes the socket over with its dispatchers.
 */
import type {Socket} from 'node:net'

import {PacketFramer, payloadOf} from './framing.js'

/** One logical packet: its payload and the sequence id of its last part. */
export interface Packet {
  readonly seq: number
  readonly payload: Buffer
}

/** The peer closed, failed, or took too long during a conversational phase. */
export class PeerClosedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'PeerClosedError'
  }
}

/** Reads one packet at a time from a socket; `detach()` hands the socket back with unread bytes. */
export class PacketReader {
  private readonly framer: PacketFramer
  private readonly queue: {packet: Packet; raw: Buffer}[] = []
  private failure: Error | undefined
  private waiter: (() => void) | undefined
  private readonly onData = (chunk: Buffer): void => {
    try {
      this.framer.push(chunk)
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)))
    }
    this.waiter?.()
  }
  private readonly onEnd = (): void => this.fail(new PeerClosedError('the connection was closed'))
  private readonly onError = (err: Error): void => this.fail(err)

  constructor(
    private socket: Socket,
    maxPacketBytes: number,
  ) {
    this.framer = new PacketFramer(maxPacketBytes, (seq, buf, start, end) => {
      this.queue.push({
        packet: {seq, payload: Buffer.from(payloadOf(buf, start, end))},
        raw: buf.subarray(start, end),
      })
    })
    this.attach(socket)
  }

  private attach(socket: Socket): void {
    this.socket = socket
    socket.on('data', this.onData)
    socket.on('end', this.onEnd)
    socket.on('close', this.onEnd)
    socket.on('error', this.onError)
  }

  private release(): void {
    this.socket.off('data', this.onData)
    this.socket.off('end', this.onEnd)
    this.socket.off('close', this.onEnd)
    this.socket.off('error', this.onError)
  }

  /** Stops listening to the socket (before a TLS upgrade takes its stream over). */
  suspend(): void {
    this.release()
  }

  /** Continues on another socket wrapping the same stream (after a TLS upgrade). */
  resumeOn(socket: Socket): void {
    this.attach(socket)
  }

  /** The next packet; rejects on close, error, malformed input or timeout. */
  async next(timeoutMs: number): Promise<Packet> {
    for (;;) {
      const ready = this.queue.shift()
      if (ready !== undefined) return ready.packet
      if (this.failure !== undefined) throw this.failure
      this.socket.resume()
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiter = undefined
          reject(new PeerClosedError(`no packet within ${Math.round(timeoutMs / 1000)} s`))
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
    this.release()
    this.socket.pause()
    const out = this.queue.map((q) => q.raw)
    this.queue.length = 0
    return [...out, ...this.framer.takeRemaining()]
  }

  private fail(err: Error): void {
    this.failure ??= err
    this.waiter?.()
  }
}
