import { toChatMessages } from '../../../../functions/_shared/common/contracts/messages.ts';
import type { Message } from '../types.ts';
import { sb } from './client.ts';

/** The user's follow-up into a task's chat; a live agent gets it as its next prompt. */
export async function postMessage(sessionId: string, content: string): Promise<void> {
  const { error } = await sb().rpc('post_message', { p_session: sessionId, p_content: content });
  if (error) throw new Error(error.message);
}

/** Messages asked for per `get_session_messages` call (the server may cap a page lower). */
const PAGE = 200;

/** Messages of a session with ids greater than `afterId`, oldest first, paging until a page comes back empty. */
export async function fetchMessages(sessionId: string, afterId: number): Promise<Message[]> {
  const out: Message[] = [];
  let after = afterId;
  for (;;) {
    const { data, error } = await sb().rpc('get_session_messages', {
      p_session: sessionId,
      p_limit: PAGE,
      p_after: after,
    });
    if (error) throw new Error(error.message);
    const page = toChatMessages(data);
    if (page.length === 0) return out;
    out.push(...page);
    after = page[page.length - 1]!.id;
  }
}
