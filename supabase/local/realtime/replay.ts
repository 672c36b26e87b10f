import type { Channel } from './channel.ts';
import { encodeBroadcast } from './frames.ts';

/** Realtime caps a replay at 25 messages. */
export const MAX_REPLAY = 25;

/**
 * `broadcast.replay: {since, limit}` on a private join: after the join reply, the
 * newest `limit` stored broadcasts of the topic inserted at or after `since` (ms since the epoch),
 * oldest first, marked `meta.replayed`. Read access was established by the join's probe.
 */
export async function replayMessages(channel: Channel, since: number, limit: number): Promise<void> {
  const n = Math.max(1, Math.min(MAX_REPLAY, Math.floor(limit)));
  const rows = await channel.host.deps.sql<
    { id: string; event: string; payload: unknown; binary_payload: Buffer | null }[]
  >`
    select id::text, coalesce(event, '') as event, payload, binary_payload from (
      select * from realtime.messages
      where topic = ${channel.subTopic} and private is true and extension = 'broadcast'
        and inserted_at >= (to_timestamp(${since}::float8 / 1000) at time zone current_setting('TimeZone'))
      order by inserted_at desc
      limit ${n}
    ) m
    order by inserted_at asc`;
  for (const row of rows) {
    if (channel.isClosed) return;
    channel.sendRaw(
      encodeBroadcast(
        channel.topic,
        { event: row.event, payload: row.binary_payload ?? row.payload, meta: { id: row.id, replayed: true } },
        channel.vsn,
      ),
    );
  }
}
