import type { RealtimeChannel } from '@supabase/supabase-js';
import { toChatMessages } from '../../../../functions/_shared/common/contracts/messages.ts';
import { UsageChanged } from '../../../../functions/_shared/common/contracts/usage.ts';
import type { ChannelStatus, Message, TaskEvent } from '../types.ts';
import type { AttentionEvent } from './attention.ts';
import { sb } from './client.ts';

export interface TopicHandlers {
  onTask?(event: TaskEvent): void;
  onMessages?(messages: Message[]): void;
  /** A question, permission request or budget pause of a project's task opened or closed. */
  onAttention?(event: AttentionEvent): void;
  /** An agent session of the chat reported token usage (`session:<id>` only). */
  onUsage?(event: UsageChanged): void;
  /** `live` after every (re)join: the moment to re-read what may have been missed. */
  onStatus(status: ChannelStatus, error?: string): void;
}

/** Channels being left, by topic: joining the same topic again waits for the leave (supabase-js keeps one channel per topic). */
const leaving = new Map<string, Promise<unknown>>();

function leaveChannel(topic: string, channel: RealtimeChannel): void {
  const left: Promise<unknown> = sb()
    .removeChannel(channel)
    .catch(() => 'error')
    .finally(() => {
      if (leaving.get(topic) === left) leaving.delete(topic);
    });
  leaving.set(topic, left);
}

/**
 * Joins the private channel `topic` (`project:<id>` or `session:<id>`); returns the leave function.
 * A channel the server closed (e.g. its token expired) is joined again after a second.
 */
export function joinTopic(topic: string, handlers: TopicHandlers): () => void {
  let left = false;
  let current: RealtimeChannel | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const join = async () => {
    handlers.onStatus('connecting');
    await leaving.get(topic);
    await sb().realtime.setAuth();
    if (left) return;
    const channel = sb().channel(topic, { config: { private: true } });
    current = channel;
    channel.on('broadcast', { event: 'task' }, (m) => handlers.onTask?.(m.payload as TaskEvent));
    channel.on('broadcast', { event: 'attention' }, (m) => handlers.onAttention?.(m.payload as AttentionEvent));
    channel.on('broadcast', { event: 'usage' }, (m) => {
      const usage = UsageChanged.safeParse(m.payload);
      if (usage.success) handlers.onUsage?.(usage.data);
    });
    channel.on('broadcast', { event: 'messages' }, (m) => {
      // The same rows as get_session_messages returns, mapped alike; one that does not parse is left to the re-read.
      try {
        handlers.onMessages?.(toChatMessages((m.payload as { messages?: unknown }).messages));
      } catch (e) {
        console.warn('an unreadable message broadcast was ignored', e);
      }
    });
    channel.subscribe((status, err) => {
      if (left || current !== channel) return;
      if (status === 'SUBSCRIBED') handlers.onStatus('live');
      else if (status === 'CLOSED') {
        handlers.onStatus('reconnecting');
        current = undefined;
        leaveChannel(topic, channel);
        retry = setTimeout(() => void join(), 1000);
      } else handlers.onStatus('reconnecting', err?.message);
    });
  };
  void join();

  return () => {
    left = true;
    clearTimeout(retry);
    if (current) leaveChannel(topic, current);
    current = undefined;
  };
}
