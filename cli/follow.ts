/**
 * `--follow`: a task's conversation streamed to the terminal over Realtime, each message once, in
 * the order it was stored, until the task ends. Like the web chat: the private `session:<id>`
 * channel's `messages` broadcasts are printed as they come; after every (re)join, and whenever a
 * broadcast skips ahead, `get_session_messages` re-reads from the last printed id, so an outage loses
 * nothing and repeats nothing. The task's status comes from its broadcasts and, as a backstop, a
 * re-read every few seconds.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import {
  continuesChunk,
  isChunkRecord,
  toChatMessages,
  type ChatMessage,
} from '../functions/_shared/common/contracts/messages.ts';
import { CliError } from './errors.ts';
import { continuedText, messageLine, type Out } from './output.ts';
import { getTask, type TaskRow } from './tasks.ts';

/** A task that reached one of these has nothing more to stream. */
const FINAL = new Set(['completed', 'failed', 'cancelled']);

export interface FollowResult {
  task: TaskRow;
  messages: number;
}

/** How long a completed task may wait for its machine to report the push before following ends anyway. */
const PUSH_WAIT_MS = 120_000;

export async function follow(
  client: SupabaseClient,
  taskId: string,
  out: Out,
  options: { pollMs?: number } = {},
): Promise<FollowResult> {
  let task = await getTask(client, taskId);
  let completedAt: number | null = null;
  /**
   * Done streaming: failed or cancelled; completed with the push reported (the agent completes
   * before its machine pushes) or waited for long enough; or a conversation waiting for a reply.
   */
  const settled = (t: TaskRow) => {
    if (t.status === 'completed') {
      completedAt ??= Date.now();
      return t.pushed !== null || Date.now() - completedAt > PUSH_WAIT_MS;
    }
    return FINAL.has(t.status) || t.execution_step === 'awaiting_followup';
  };
  if (!task.chat_session_id) throw new CliError(`Task ${taskId} has no conversation to follow.`);
  const sessionId = task.chat_session_id;
  let lastId = 0;
  let printed = 0;
  let reading: Promise<void> = Promise.resolve();

  /**
   * The streamed message whose line is still open: the vm-agent may store one message as several
   * records (to stream it live), and its next record goes on on the same line.
   */
  let open: ChatMessage | null = null;
  const endLine = () => {
    if (open) out.write('\n');
    open = null;
  };
  const print = (messages: ChatMessage[]) => {
    for (const m of messages) {
      if (m.id <= lastId) continue;
      lastId = m.id;
      printed++;
      if (out.json) out.data({ type: 'message', taskId, message: m });
      else if (open && continuesChunk(open, m)) {
        out.write(continuedText(m));
        open = m;
      } else {
        endLine();
        const chunk = isChunkRecord(m);
        out.write(messageLine(m) + (chunk ? '' : '\n'));
        open = chunk ? m : null;
      }
    }
  };

  /** Everything stored after the last printed message (serialised: one re-read at a time). */
  const catchUp = () => {
    reading = reading.then(async () => {
      for (;;) {
        const { data, error } = await client.rpc('get_session_messages', {
          p_session: sessionId,
          p_limit: 200,
          p_after: lastId,
        });
        if (error) throw new CliError(`Could not read the conversation: ${error.message}`);
        const page = toChatMessages(data);
        if (page.length === 0) return;
        print(page);
      }
    });
    return reading;
  };

  let finish!: () => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const onTask = (next: TaskRow) => {
    if (out.json) {
      if (next.status !== task.status || next.execution_step !== task.execution_step) {
        out.data({ type: 'task', task: next });
      }
    } else if (next.status !== task.status && next.status !== 'completed') {
      endLine();
      out.err(`— ${next.status}${next.execution_step ? ` (${next.execution_step.replace(/_/g, ' ')})` : ''}`);
    }
    task = next;
    if (settled(task)) catchUp().then(finish, fail);
  };
  const refresh = () => getTask(client, taskId).then(onTask, fail);

  await client.realtime.setAuth();
  const channel = client.channel(`session:${sessionId}`, { config: { private: true } });
  channel.on('broadcast', { event: 'messages' }, (m) => {
    let messages: ChatMessage[];
    try {
      messages = toChatMessages((m.payload as { messages?: unknown }).messages);
    } catch {
      void catchUp().catch(fail);
      return;
    }
    // In order, nothing missed: print; anything else is left to the re-read.
    void reading.then(() => {
      if (
        messages.length > 0 &&
        messages[0]!.id > lastId &&
        messages.every((x, i) => i === 0 || x.id > messages[i - 1]!.id)
      ) {
        print(messages);
      } else void catchUp().catch(fail);
    });
  });
  channel.on('broadcast', { event: 'task' }, () => void refresh());
  channel.subscribe((status, err) => {
    if (status === 'SUBSCRIBED') void catchUp().then(refresh, fail);
    else if (status === 'CHANNEL_ERROR' && err && /unauthori[sz]ed|denied/i.test(err.message)) {
      fail(new CliError(`Realtime refused the conversation of task ${taskId}: ${err.message}`));
    }
  });
  const poll = setInterval(() => void refresh(), options.pollMs ?? 3000);
  try {
    if (settled(task)) await catchUp();
    else await done;
  } finally {
    clearInterval(poll);
    await client.removeChannel(channel);
  }
  await catchUp();
  endLine();
  return { task, messages: printed };
}
