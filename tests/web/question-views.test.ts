import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../functions/_shared/common/contracts/messages.ts';
import { cardOf, waitingCard } from '../../web/src/lib/cards.ts';

/** The agent's question as a chat card without a browser: which lines are its card, and what the task waits for. */
let id = 0;
function msg(patch: Partial<ChatMessage>): ChatMessage {
  id++;
  return {
    id,
    messageId: `m-${id}`,
    role: 'system',
    content: '',
    toolCallId: null,
    toolStatus: null,
    metadata: null,
    origin: 'agent',
    producedAt: null,
    createdAt: '2026-01-01T00:00:01.000Z',
    ...patch,
  };
}

const RID = '2b8a1f0e-4c5d-4e6f-8a9b-0c1d2e3f4a5b';
const question = (metadata: Record<string, unknown>) =>
  msg({ messageId: `question:${RID}`, content: 'Which database?', metadata });

describe('question cards', () => {
  it('knows the question line by its id and metadata, with or without the newer fields', () => {
    const view = cardOf(
      question({
        kind: 'human_input',
        humanInputRequestId: RID,
        category: 'decision',
        options: ['Postgres', 'SQLite'],
        expiresAt: '2026-01-01T02:00:00Z',
      }),
    );
    expect(view).toEqual({
      kind: 'question',
      card: expect.objectContaining({ humanInputRequestId: RID, options: ['Postgres', 'SQLite'] }),
    });
    // A line written before `kind` and `expiresAt` were added.
    expect(cardOf(question({ humanInputRequestId: RID, category: 'clarification', options: [] }))?.kind).toBe(
      'question',
    );
    // The expiry line, an agent's look-alike under another id, and a user's answer are not cards.
    expect(
      cardOf(
        msg({
          messageId: `question:${RID}:outcome`,
          metadata: { kind: 'human_input_expired', humanInputRequestId: RID },
        }),
      ),
    ).toBeNull();
    expect(cardOf(msg({ messageId: 'agent:question:x', metadata: { humanInputRequestId: RID } }))).toBeNull();
    expect(
      cardOf(msg({ role: 'user', messageId: `answer:${RID}`, metadata: { humanInputRequestId: RID } })),
    ).toBeNull();
  });

  it('says the task waits for an answer until it is answered or expired', () => {
    const card = question({ kind: 'human_input', humanInputRequestId: RID, options: [] });
    expect(waitingCard([card])).toBe('The agent asks you a question');
    expect(waitingCard([card, msg({ role: 'user', messageId: `answer:${RID}`, content: 'Postgres' })])).toBeNull();
    expect(waitingCard([card, msg({ messageId: `question:${RID}:outcome`, content: 'expired' })])).toBeNull();
  });
});
