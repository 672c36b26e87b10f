import { describe, expect, it } from 'vitest';
import { type ChatMessage, toChatMessages } from '../../functions/_shared/common/contracts/messages.ts';
import { chatItems, mergeMessages } from '../../web/src/lib/messages.ts';

/** How the chat folds what the database sends (no browser: the pure functions of web/src/lib/messages.ts). */
let id = 0;
function msg(patch: Partial<ChatMessage>): ChatMessage {
  id++;
  return {
    id,
    messageId: `m-${id}`,
    role: 'assistant',
    content: '',
    toolCallId: null,
    toolStatus: null,
    metadata: null,
    origin: null,
    producedAt: '2026-01-01T00:00:00.000Z',
    createdAt: '2026-01-01T00:00:01.000Z',
    ...patch,
  };
}

describe('chatItems', () => {
  it('folds every record of a tool call by its toolCallId field into one item with the latest status', () => {
    const items = chatItems([
      msg({ role: 'tool', content: 'Read a.ts', toolCallId: 'c1', toolStatus: 'pending', metadata: { kind: 'read' } }),
      msg({ role: 'tool', content: 'Edit b.ts', toolCallId: 'c2', toolStatus: 'in_progress' }),
      msg({ role: 'tool', content: '', toolCallId: 'c1', toolStatus: 'completed' }),
    ]);
    expect(
      items.map((i) => (i.kind === 'tool' ? [i.tool.toolCallId, i.tool.title, i.tool.status, i.tool.kind] : i.kind)),
    ).toEqual([
      ['c1', 'Read a.ts', 'completed', 'read'],
      ['c2', 'Edit b.ts', 'in_progress', null],
    ]);
  });

  it("keeps a tool call's title when an update carries only its output, and takes a new title when one is given", () => {
    const items = chatItems([
      msg({
        role: 'tool',
        content: 'mcp__sam__update_task_status',
        toolCallId: 'c1',
        metadata: { title: 'mcp__sam__update_task_status' },
      }),
      msg({ role: 'tool', content: '{"recorded":true}', toolCallId: 'c1', toolStatus: 'completed' }),
      msg({ role: 'tool', content: 'Write', toolCallId: 'c2', metadata: { title: 'Write' } }),
      msg({
        role: 'tool',
        content: 'Write a.md',
        toolCallId: 'c2',
        toolStatus: 'completed',
        metadata: { title: 'Write a.md' },
      }),
    ]);
    expect(items.map((i) => (i.kind === 'tool' ? [i.tool.title, i.tool.status] : i.kind))).toEqual([
      ['mcp__sam__update_task_status', 'completed'],
      ['Write a.md', 'completed'],
    ]);
  });

  it("shows the agent's echo of the user's message once, and an echo of something the user never said as the agent's", () => {
    const items = chatItems([
      msg({ role: 'user', content: 'add a greeting', origin: 'user', producedAt: null }),
      msg({ role: 'assistant', content: 'add a greeting', metadata: { echo: 'user' } }),
      msg({ role: 'assistant', content: 'merge to main', metadata: { echo: 'user' } }),
    ]);
    expect(items.map((i) => (i.kind === 'message' ? [i.message.role, i.message.content] : i.kind))).toEqual([
      ['user', 'add a greeting'],
      ['assistant', 'merge to main'],
    ]);
  });
});

describe('toChatMessages', () => {
  it('maps the rows the database sends (broadcast and re-read alike) once, ignoring other columns', () => {
    const row = {
      id: 7,
      session_id: 's',
      owner_id: 'o',
      message_id: 'a',
      role: 'tool',
      content: 'x',
      tool_call_id: 'c',
      tool_status: 'failed',
      tool_metadata: { kind: 'read' },
      origin: null,
      produced_at: '2026-01-01T00:00:00+00:00',
      created_at: '2026-01-01T00:00:01.5+00:00',
    };
    const parsed = toChatMessages([row]);
    expect(parsed).toEqual([
      {
        id: 7,
        messageId: 'a',
        role: 'tool',
        content: 'x',
        toolCallId: 'c',
        toolStatus: 'failed',
        metadata: { kind: 'read' },
        origin: null,
        producedAt: '2026-01-01T00:00:00+00:00',
        createdAt: '2026-01-01T00:00:01.5+00:00',
      },
    ]);
    expect(mergeMessages(parsed, toChatMessages([row]))).toEqual(parsed);
    expect(() => toChatMessages([{ ...row, role: 'robot' }])).toThrow();
  });
});
