import type { RawData, WebSocket } from 'ws';
import type { Channel, ChannelHost, RealtimeDeps } from './channel.ts';
import { decodeFrame, encodeFrame, FrameError, type Frame, type Vsn } from './frames.ts';
import { handleAccessToken, handleJoin } from './join.ts';
import { LIMITS } from './limits.ts';
import { handleBroadcast, handlePresence } from './pushes.ts';
import type { VerifiedClaims } from './tokens.ts';

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * One Phoenix socket (frames.ts, join.ts): decodes frames, answers heartbeats, and routes channel
 * events. Frames are handled one at a time in arrival order, as a Phoenix socket process does.
 */
export class Connection implements ChannelHost {
  readonly channels = new Map<string, Channel>();
  lastSeen = Date.now();
  private queue: Promise<void> = Promise.resolve();
  private isClosed = false;

  constructor(
    private readonly ws: WebSocket,
    readonly vsn: Vsn,
    private readonly socketAuth: { claims: VerifiedClaims; token: string },
    readonly headers: Record<string, string>,
    readonly deps: RealtimeDeps,
  ) {
    ws.on('message', (data, isBinary) => {
      this.lastSeen = Date.now();
      const buffer = toBuffer(data);
      this.queue = this.queue
        .then(() => this.onFrame(buffer, isBinary))
        .catch((e: unknown) => deps.log(`frame handling failed: ${e instanceof Error ? e.message : String(e)}`));
    });
    ws.on('close', () => this.teardown());
    ws.on('error', () => this.teardown());
  }

  get closed(): boolean {
    return this.isClosed;
  }

  send(frame: Frame): void {
    this.sendRaw(encodeFrame(frame, this.vsn));
  }

  /**
   * Queues a frame. A socket whose unsent backlog is past LIMITS.bufferedBytes (a client that
   * stopped reading) is cut off rather than buffered for without end.
   */
  sendRaw(data: string | Buffer): void {
    if (this.isClosed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > LIMITS.bufferedBytes) {
      this.deps.log(`disconnected a slow consumer: ${this.ws.bufferedAmount} bytes unsent`);
      this.terminate();
      return;
    }
    this.ws.send(data, { binary: typeof data !== 'string' });
  }

  reply(frame: Frame, status: 'ok' | 'error', response: Record<string, unknown>): void {
    this.send({
      joinRef: frame.joinRef,
      ref: frame.ref,
      topic: frame.topic,
      event: 'phx_reply',
      payload: { status, response },
    });
  }

  /** Closes the socket (e.g. idle timeout or server shutdown). */
  terminate(): void {
    this.ws.terminate();
    this.teardown();
  }

  private teardown(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const channel of [...this.channels.values()]) channel.close(false);
  }

  private async onFrame(data: Buffer, isBinary: boolean): Promise<void> {
    if (this.isClosed) return;
    let frame: Frame;
    try {
      frame = decodeFrame(data, isBinary, this.vsn);
    } catch (e) {
      if (e instanceof FrameError) return this.deps.log(`dropped a malformed frame: ${e.message}`);
      throw e;
    }
    if (frame.topic === 'phoenix' && frame.event === 'heartbeat') return this.reply(frame, 'ok', {});
    if (frame.event === 'phx_join') return handleJoin(this, frame, this.socketAuth);

    const channel = this.channels.get(frame.topic);
    if (!channel) return this.reply(frame, 'error', { reason: 'unmatched topic' });
    // A push for an earlier join of this topic: Phoenix ignores it.
    if (frame.joinRef !== null && frame.joinRef !== channel.joinRef) return;
    switch (frame.event) {
      case 'phx_leave':
        this.reply(frame, 'ok', {});
        channel.close(true);
        return;
      case 'access_token':
        return handleAccessToken(channel, frame);
      case 'broadcast':
        return handleBroadcast(channel, frame);
      case 'presence':
        return handlePresence(channel, frame);
      default:
        return;
    }
  }
}
