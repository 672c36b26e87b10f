import { encodeBroadcast, type BroadcastMessage, type Vsn } from './frames.ts';
import { TopicPresence, type PresenceDiff } from './presence.ts';

/** What the registry needs from a joined channel. */
export interface Subscriber {
  readonly private: boolean;
  /** `realtime:<subTopic>` */
  readonly topic: string;
  readonly subTopic: string;
  readonly vsn: Vsn;
  /** Cached `broadcast.read` (always true on public channels). */
  canReadBroadcast(): boolean;
  /** Presence enabled and, on private channels, cached `presence.read`. */
  receivesPresence(): boolean;
  sendRaw(data: string | Buffer): void;
  push(event: string, payload: unknown): void;
}

/** Public and private channels with the same name are different topics, as on hosted Realtime. */
export function topicKey(isPrivate: boolean, subTopic: string): string {
  return `${isPrivate ? 'private' : 'public'}:${subTopic}`;
}

/** Which channels are joined to which topic, their presences, and fan-out. */
export class ChannelRegistry<C extends Subscriber> {
  private readonly topics = new Map<string, Set<C>>();
  private readonly presences = new Map<string, TopicPresence<C>>();

  get channelCount(): number {
    let n = 0;
    for (const set of this.topics.values()) n += set.size;
    return n;
  }

  add(channel: C): void {
    const key = topicKey(channel.private, channel.subTopic);
    let set = this.topics.get(key);
    if (!set) this.topics.set(key, (set = new Set()));
    set.add(channel);
  }

  /** Removes a channel and pushes the presence leave it causes. */
  remove(channel: C): void {
    const key = topicKey(channel.private, channel.subTopic);
    const set = this.topics.get(key);
    if (!set?.delete(channel)) return;
    if (set.size === 0) this.topics.delete(key);
    const presence = this.presences.get(key);
    const diff = presence?.untrack(channel);
    if (diff) this.pushPresenceDiff(key, diff);
    if (presence && presence.size === 0) this.presences.delete(key);
  }

  presence(channel: C): TopicPresence<C> {
    const key = topicKey(channel.private, channel.subTopic);
    let p = this.presences.get(key);
    if (!p) this.presences.set(key, (p = new TopicPresence<C>()));
    return p;
  }

  pushPresenceDiff(key: string, diff: PresenceDiff): void {
    for (const channel of this.topics.get(key) ?? []) {
      if (channel.receivesPresence()) channel.push('presence_diff', diff);
    }
  }

  /**
   * Sends a broadcast to every channel joined to (`isPrivate`, `subTopic`) that may read it, except
   * `exclude`. Frames are encoded once per protocol version. Returns how many channels got it.
   */
  broadcast(isPrivate: boolean, subTopic: string, message: BroadcastMessage, exclude?: C): number {
    const set = this.topics.get(topicKey(isPrivate, subTopic));
    if (!set) return 0;
    const topic = `realtime:${subTopic}`;
    const encoded = new Map<Vsn, string | Buffer>();
    let n = 0;
    for (const channel of set) {
      if (channel === exclude || !channel.canReadBroadcast()) continue;
      let frame = encoded.get(channel.vsn);
      if (frame === undefined) encoded.set(channel.vsn, (frame = encodeBroadcast(topic, message, channel.vsn)));
      channel.sendRaw(frame);
      n++;
    }
    return n;
  }
}
