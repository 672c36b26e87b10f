import type { Channel } from './channel.ts';
import type { Frame } from './frames.ts';
import { LIMITS } from './limits.ts';
import { topicKey } from './registry.ts';

function obj(v: unknown): Record<string, unknown> | null {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/**
 * A client `broadcast`: on private channels the cached write probe must allow it,
 * else it is dropped with no reply even when `ack` is on. Delivered to every readable channel of the
 * topic, the sender only with `self`; `ack` gets an ok reply.
 */
export async function handleBroadcast(channel: Channel, frame: Frame): Promise<void> {
  const message = obj(frame.payload);
  if (!message || typeof message.event !== 'string') {
    channel.host.reply(frame, 'error', { reason: 'broadcast needs an event' });
    return;
  }
  if (channel.private && !(await channel.canWrite('broadcast'))) return;
  if (channel.isClosed) return;
  channel.host.deps.registry.broadcast(
    channel.private,
    channel.subTopic,
    { event: message.event, payload: message.payload },
    channel.self ? undefined : channel,
  );
  if (channel.ack) channel.host.reply(frame, 'ok', {});
}

/** Why a presence is too big to track (LIMITS), or null when it may be tracked. */
function presenceRefusal(payload: Record<string, unknown>): string | null {
  if (Object.keys(payload).length > LIMITS.presenceKeys) {
    return `PresenceKeysLimitReached: A presence may have at most ${LIMITS.presenceKeys} keys`;
  }
  if (Buffer.byteLength(JSON.stringify(payload)) > LIMITS.presenceBytes) {
    return `PresencePayloadTooLarge: A presence may take at most ${LIMITS.presenceBytes} bytes`;
  }
  return null;
}

/**
 * A client `presence` push: `track` with a map payload (private channels need the presence
 * write probe) or `untrack`; ok reply, then a `presence_diff` to the topic's presence subscribers.
 */
export async function handlePresence(channel: Channel, frame: Frame): Promise<void> {
  const { host } = channel;
  const { registry } = host.deps;
  const push = obj(frame.payload) ?? {};
  const key = topicKey(channel.private, channel.subTopic);
  if (push.event === 'track') {
    const payload = obj(push.payload);
    if (!payload) return host.reply(frame, 'error', { reason: 'Presence track payload must be a map' });
    const refused = presenceRefusal(payload);
    if (refused) return host.reply(frame, 'error', { reason: refused });
    if (channel.private && !(await channel.canWrite('presence'))) {
      return host.reply(frame, 'error', {
        reason: `Unauthorized: You do not have permissions to track presence on this Channel topic: ${channel.subTopic}`,
      });
    }
    if (channel.isClosed) return;
    const diff = registry.presence(channel).track(channel, channel.presenceKey, payload);
    host.reply(frame, 'ok', {});
    registry.pushPresenceDiff(key, diff);
    return;
  }
  if (push.event === 'untrack') {
    const diff = registry.presence(channel).untrack(channel);
    host.reply(frame, 'ok', {});
    if (diff) registry.pushPresenceDiff(key, diff);
    return;
  }
  host.reply(frame, 'error', { reason: 'unknown presence event' });
}
