import type postgres from 'postgres';
import type { LocalKeys } from '../keys.ts';
import { probeWrite, type AuthContext, type Extension } from './authorization.ts';
import type { Frame, Vsn } from './frames.ts';
import type { ChannelRegistry, Subscriber } from './registry.ts';
import type { VerifiedClaims } from './tokens.ts';

/** What the Realtime server shares with every connection. */
export interface RealtimeDeps {
  /** Admin pool: probes and the DB feed's fetches. */
  sql: postgres.Sql;
  keys: LocalKeys;
  registry: ChannelRegistry<Channel>;
  log(message: string): void;
}

/** The socket side a channel talks through (implemented by Connection). */
export interface ChannelHost {
  readonly vsn: Vsn;
  readonly deps: RealtimeDeps;
  readonly headers: Record<string, string>;
  readonly channels: Map<string, Channel>;
  readonly closed: boolean;
  send(frame: Frame): void;
  sendRaw(data: string | Buffer): void;
  reply(frame: Frame, status: 'ok' | 'error', response: Record<string, unknown>): void;
}

export interface ChannelInit {
  topic: string;
  subTopic: string;
  joinRef: string;
  isPrivate: boolean;
  ack: boolean;
  self: boolean;
  presenceEnabled: boolean;
  presenceKey: string;
  claims: VerifiedClaims;
  token: string;
  read: Record<Extension, boolean>;
}

/** setTimeout's ceiling; longer waits re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One joined channel of one socket: its config, identity and cached authorization. */
export class Channel implements Subscriber {
  readonly topic: string;
  readonly subTopic: string;
  readonly joinRef: string;
  readonly private: boolean;
  readonly ack: boolean;
  readonly self: boolean;
  readonly presenceEnabled: boolean;
  readonly presenceKey: string;
  claims: VerifiedClaims;
  token: string;
  /** Read permissions from the last probe; public channels ignore them. */
  read: Record<Extension, boolean>;
  private readonly writes = new Map<Extension, Promise<boolean>>();
  private expiryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly host: ChannelHost,
    init: ChannelInit,
  ) {
    this.topic = init.topic;
    this.subTopic = init.subTopic;
    this.joinRef = init.joinRef;
    this.private = init.isPrivate;
    this.ack = init.ack;
    this.self = init.self;
    this.presenceEnabled = init.presenceEnabled;
    this.presenceKey = init.presenceKey;
    this.claims = init.claims;
    this.token = init.token;
    this.read = init.read;
  }

  get vsn(): Vsn {
    return this.host.vsn;
  }

  canReadBroadcast(): boolean {
    return !this.private || this.read.broadcast;
  }

  receivesPresence(): boolean {
    return this.presenceEnabled && (!this.private || this.read.presence);
  }

  sendRaw(data: string | Buffer): void {
    this.host.sendRaw(data);
  }

  /** A server push on this channel, carrying the current join ref. */
  push(event: string, payload: unknown): void {
    this.host.send({ joinRef: this.joinRef, ref: null, topic: this.topic, event, payload });
  }

  authContext(claims = this.claims): AuthContext {
    return { topic: this.subTopic, claims, headers: this.host.headers };
  }

  /** The write probe, run on first use per extension and cached until the next access token. */
  canWrite(extension: Extension): Promise<boolean> {
    if (!this.private) return Promise.resolve(true);
    let cached = this.writes.get(extension);
    if (!cached) {
      cached = probeWrite(this.host.deps.sql, this.authContext(), extension).catch((e: unknown) => {
        this.host.deps.log(`write probe failed on ${this.subTopic}: ${e instanceof Error ? e.message : String(e)}`);
        this.writes.delete(extension);
        return false;
      });
      this.writes.set(extension, cached);
    }
    return cached;
  }

  /** Replaces identity and authorization after an accepted `access_token` push. */
  updateAuth(claims: VerifiedClaims, token: string, read: Record<Extension, boolean>): void {
    this.claims = claims;
    this.token = token;
    this.read = read;
    this.writes.clear();
    this.armExpiry();
  }

  /**
   * Closes the channel when its token expires: Realtime re-checks the token and then sends a
   * `system` error followed by `phx_close`; realtime-js does not resubscribe after that.
   */
  armExpiry(): void {
    clearTimeout(this.expiryTimer);
    const wait = this.claims.exp * 1000 - Date.now();
    this.expiryTimer = setTimeout(
      () => {
        if (this.claims.exp * 1000 > Date.now()) return this.armExpiry();
        const ago = Math.max(0, Math.floor(Date.now() / 1000) - this.claims.exp);
        this.shutdown(`Token has expired ${ago} seconds ago`);
      },
      Math.max(0, Math.min(wait + 20, MAX_TIMER_MS)),
    );
    this.expiryTimer.unref();
  }

  /** Server-initiated stop: `system` error, then `phx_close` (client does not rejoin). */
  shutdown(message: string): void {
    if (this.closed) return;
    this.push('system', { extension: 'system', status: 'error', message, channel: this.subTopic });
    this.close(true);
  }

  /** Removes the channel from its socket and the registry; optionally tells the client with `phx_close`. */
  close(sendClose: boolean): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.expiryTimer);
    if (sendClose)
      this.host.send({ joinRef: this.joinRef, ref: this.joinRef, topic: this.topic, event: 'phx_close', payload: {} });
    if (this.host.channels.get(this.topic) === this) this.host.channels.delete(this.topic);
    this.host.deps.registry.remove(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
