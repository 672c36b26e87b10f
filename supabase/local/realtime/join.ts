import { randomUUID } from 'node:crypto';
import { probeRead, type Extension } from './authorization.ts';
import { Channel, type ChannelHost } from './channel.ts';
import type { Frame } from './frames.ts';
import { LIMITS } from './limits.ts';
import { MAX_REPLAY, replayMessages } from './replay.ts';
import { verifyToken, type VerifiedClaims } from './tokens.ts';

function obj(v: unknown): Record<string, unknown> {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** A token a join or `access_token` push may carry; `sb_…` keys and empty values mean "use the socket's". */
function userToken(v: unknown): string | null {
  return typeof v === 'string' && v !== '' && !v.startsWith('sb_') ? v : null;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * `phx_join`: validate the topic and config, verify the token (the join's
 * `access_token`, else the socket's), run the RLS read probe for private channels, register the
 * channel and reply; then push `presence_state` when presence is on and readable.
 */
export async function handleJoin(
  host: ChannelHost,
  frame: Frame,
  socketAuth: { claims: VerifiedClaims; token: string },
): Promise<void> {
  const { deps } = host;
  const fail = (reason: string) => host.reply(frame, 'error', { reason });
  if (!frame.topic.startsWith('realtime:')) return fail('unmatched topic');
  const subTopic = frame.topic.slice('realtime:'.length);
  if (!subTopic) return fail('TopicNameRequired: You must provide a topic name');
  if (!frame.joinRef) return fail('join_ref is required');
  // Joining a topic again replaces its channel; a new topic needs a free place.
  if (!host.channels.has(frame.topic) && host.channels.size >= LIMITS.channelsPerSocket) {
    return fail('ChannelRateLimitReached: Too many channels');
  }

  const payload = obj(frame.payload);
  const config = obj(payload.config);
  const broadcast = obj(config.broadcast);
  const presence = obj(config.presence);
  const isPrivate = config.private === true;
  const presenceEnabled = presence.enabled === true;
  if (Array.isArray(config.postgres_changes) && config.postgres_changes.length > 0) {
    // Loud rather than a silent subscription that never delivers (the app uses broadcast only).
    return fail('PostgresChangesNotSupported: the local Realtime serves broadcast and presence only');
  }

  const token = userToken(payload.access_token);
  let claims = socketAuth.claims;
  let usedToken = socketAuth.token;
  if (token) {
    const verified = await verifyToken(deps.keys, token);
    if (!verified.ok) return fail(`InvalidJWTToken: ${verified.reason}`);
    claims = verified.claims;
    usedToken = token;
  }
  if (claims.exp * 1000 <= Date.now()) return fail('InvalidJWTToken: Token has expired 0 seconds ago');

  let read: Record<Extension, boolean> = { broadcast: true, presence: true };
  if (isPrivate) {
    const extensions: Extension[] = presenceEnabled ? ['broadcast', 'presence'] : ['broadcast'];
    try {
      read = await probeRead(deps.sql, { topic: subTopic, claims, headers: host.headers }, extensions);
    } catch (e) {
      deps.log(`read probe failed on ${subTopic}: ${describe(e)}`);
      return fail('UnableToSetPolicies: Error setting policies');
    }
    if (!read.broadcast && !read.presence) {
      return fail(`Unauthorized: You do not have permissions to read from this Channel topic: ${subTopic}`);
    }
  }
  if (host.closed) return;

  // Phoenix closes an existing channel of the same topic on this socket before the new join.
  host.channels.get(frame.topic)?.close(true);
  const channel = new Channel(host, {
    topic: frame.topic,
    subTopic,
    joinRef: frame.joinRef,
    isPrivate,
    ack: broadcast.ack === true,
    self: broadcast.self === true,
    presenceEnabled,
    presenceKey: typeof presence.key === 'string' && presence.key !== '' ? presence.key : randomUUID(),
    claims,
    token: usedToken,
    read,
  });
  host.channels.set(frame.topic, channel);
  deps.registry.add(channel);
  host.reply(frame, 'ok', { postgres_changes: [] });
  channel.armExpiry();
  if (broadcast.replication_ready === true) {
    // The database feed is a LISTEN that is up before the server accepts sockets.
    channel.push('system', {
      extension: 'system',
      status: 'ok',
      message: 'Replication connection established',
      channel: subTopic,
    });
  }
  if (channel.receivesPresence()) channel.push('presence_state', deps.registry.presence(channel).state());
  const replay = obj(broadcast.replay);
  if (isPrivate && typeof replay.since === 'number') {
    const limit = typeof replay.limit === 'number' ? replay.limit : MAX_REPLAY;
    await replayMessages(channel, replay.since, limit).catch((e: unknown) =>
      deps.log(`replay failed on ${subTopic}: ${describe(e)}`),
    );
  }
}

/**
 * `access_token`: ignore `sb_…`, empty or unchanged tokens; otherwise verify (failure stops
 * the channel), re-run the read probe on private channels, and stop the channel if a read it had is
 * now denied. No reply either way.
 */
export async function handleAccessToken(channel: Channel, frame: Frame): Promise<void> {
  const token = userToken(obj(frame.payload).access_token);
  if (!token || token === channel.token) return;
  const { deps } = channel.host;
  const verified = await verifyToken(deps.keys, token);
  if (channel.isClosed) return;
  if (!verified.ok) return channel.shutdown(verified.reason);
  let read = channel.read;
  if (channel.private) {
    const extensions: Extension[] = channel.presenceEnabled ? ['broadcast', 'presence'] : ['broadcast'];
    try {
      read = await probeRead(deps.sql, channel.authContext(verified.claims), extensions);
    } catch (e) {
      deps.log(`read probe failed on ${channel.subTopic}: ${describe(e)}`);
      return channel.shutdown('UnableToSetPolicies: Error setting policies');
    }
    if (channel.isClosed) return;
    if ((channel.read.broadcast && !read.broadcast) || (channel.read.presence && !read.presence)) {
      return channel.shutdown(`You no longer have permission to read from this Channel topic: ${channel.subTopic}`);
    }
  }
  channel.updateAuth(verified.claims, token, read);
}
