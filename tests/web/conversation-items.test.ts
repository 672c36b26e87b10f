import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../functions/_shared/common/contracts/messages.ts';
import { lineDiff } from '../../web/src/lib/line-diff.ts';
import { type ChatItem, chatItems } from '../../web/src/lib/messages.ts';

/** How the chat reads: one plan per turn revised in place, a tool call with its results (web/src/lib). */
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

const plan = (...statuses: string[]) =>
  msg({
    role: 'plan',
    content: statuses.map((s, i) => `[${s}] step ${i + 1}`).join('\n'),
    metadata: { entries: statuses.map((status, i) => ({ content: `step ${i + 1}`, status, priority: 'medium' })) },
  });

const shape = (items: ChatItem[]) =>
  items.map((i) =>
    i.kind === 'plan'
      ? ['plan', i.firstId, i.plan.revisions, i.plan.entries.map((e) => e.status).join(',')]
      : i.kind === 'tool'
        ? ['tool', i.tool.toolCallId, i.tool.status]
        : [i.message.role, i.message.content],
  );

describe('plans', () => {
  it('revises one plan in place where it first appeared, with the latest entries and a count of revisions', () => {
    const messages = [
      msg({ role: 'user', content: 'do it', origin: 'user' }),
      plan('in_progress', 'pending'),
      msg({ content: 'Working.' }),
      plan('completed', 'in_progress'),
      msg({ role: 'tool', content: 'Read a', toolCallId: 'c1', toolStatus: 'completed' }),
      plan('completed', 'completed'),
    ];
    const first = messages[1]!;
    const items = chatItems(messages);
    expect(shape(items)).toEqual([
      ['user', 'do it'],
      ['plan', first.id, 2, 'completed,completed'],
      ['assistant', 'Working.'],
      ['tool', 'c1', 'completed'],
    ]);
    const p = items[1] as Extract<ChatItem, { kind: 'plan' }>;
    expect(p.key).toBe(`plan:${first.id}`);
    expect(p.plan.latestId).toBe(messages[5]!.id);
  });

  it("starts a new plan after the user's next message (a new turn), and reads plans without entries from their text", () => {
    const items = chatItems([
      plan('in_progress'),
      plan('completed'),
      msg({ role: 'user', content: 'now the docs', origin: 'user' }),
      msg({ role: 'plan', content: '[pending] write docs\nsomething else' }),
    ]);
    expect(shape(items)).toEqual([
      ['plan', items[0]!.kind === 'plan' ? items[0]!.firstId : 0, 1, 'completed'],
      ['user', 'now the docs'],
      ['plan', items[2]!.kind === 'plan' ? items[2]!.firstId : 0, 0, 'pending,pending'],
    ]);
    const second = items[2] as Extract<ChatItem, { kind: 'plan' }>;
    expect(second.plan.entries.map((e) => e.content)).toEqual(['write docs', 'something else']);
  });
});

describe('tool calls with their results', () => {
  it('folds the call and its updates: input, locations, latest content (text and diffs) and raw output', () => {
    const items = chatItems([
      msg({
        role: 'tool',
        content: 'Append a line to README.md',
        toolCallId: 'edit',
        toolStatus: 'pending',
        metadata: {
          title: 'Append a line to README.md',
          kind: 'edit',
          locations: [{ path: 'README.md' }],
          rawInput: { path: 'README.md', line: 'hi' },
        },
      }),
      msg({ role: 'tool', content: '', toolCallId: 'edit', toolStatus: 'in_progress', metadata: {} }),
      msg({
        role: 'tool',
        content: 'edited README.md',
        toolCallId: 'edit',
        toolStatus: 'completed',
        metadata: {
          content: [
            { type: 'diff', path: 'README.md', oldText: '# A\n', newText: '# A\nhi\n' },
            { type: 'content', content: { type: 'text', text: 'ok' } },
            { type: 'terminal', terminalId: 't1' },
            { type: 'mystery' },
          ],
          rawOutput: { bytes: 7 },
        },
      }),
    ]);
    expect(items).toHaveLength(1);
    const t = (items[0] as Extract<ChatItem, { kind: 'tool' }>).tool;
    expect(t).toEqual({
      toolCallId: 'edit',
      title: 'Append a line to README.md',
      status: 'completed',
      kind: 'edit',
      records: 3,
      input: { path: 'README.md', line: 'hi' },
      output: { bytes: 7 },
      content: [
        { type: 'diff', path: 'README.md', oldText: '# A\n', newText: '# A\nhi\n' },
        { type: 'text', text: 'ok' },
        { type: 'terminal', terminalId: 't1' },
      ],
      locations: ['README.md'],
    });
  });

  it("takes an update's bare text as the tool's output, and a failed update's content replaces the earlier", () => {
    const items = chatItems([
      msg({ role: 'tool', content: 'update_task_status', toolCallId: 'm1', metadata: { title: 'update_task_status' } }),
      msg({ role: 'tool', content: '{"recorded":true}', toolCallId: 'm1', toolStatus: 'completed' }),
      msg({
        role: 'tool',
        content: 'Write',
        toolCallId: 'w',
        metadata: { content: [{ type: 'content', content: { type: 'text', text: 'first' } }] },
      }),
      msg({
        role: 'tool',
        content: 'Permission refused',
        toolCallId: 'w',
        toolStatus: 'failed',
        metadata: { content: [{ type: 'content', content: { type: 'text', text: 'Permission refused' } }] },
      }),
    ]);
    const tools = items.map((i) => (i as Extract<ChatItem, { kind: 'tool' }>).tool);
    expect(tools.map((t) => [t.title, t.status, t.content])).toEqual([
      ['update_task_status', 'completed', [{ type: 'text', text: '{"recorded":true}' }]],
      ['Write', 'failed', [{ type: 'text', text: 'Permission refused' }]],
    ]);
  });
});

describe('line diff of a tool call', () => {
  it('gives hunks with context, counts and line numbers of both sides', () => {
    const old = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].join('\n') + '\n';
    const next = ['a', 'b', 'C', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'].join('\n') + '\n';
    const d = lineDiff(old, next, 1);
    expect(d).toMatchObject({ additions: 2, deletions: 1, truncated: false });
    expect(d.hunks.map((h) => [h.header, h.lines])).toEqual([
      ['@@ -2,3 +2,3 @@', [' b', '-c', '+C', ' d']],
      ['@@ -10,1 +10,2 @@', [' j', '+k']],
    ]);
  });

  it('shows a new file as all added, and cuts at maxLines', () => {
    expect(lineDiff(null, 'x\ny\n').hunks).toEqual([
      { header: '@@ -0,0 +1,2 @@', oldStart: 0, oldLines: 0, newStart: 1, newLines: 2, lines: ['+x', '+y'] },
    ]);
    const many = Array.from({ length: 50 }, (_, i) => `l${i}`).join('\n');
    const cut = lineDiff('', many, 3, 10);
    expect(cut.truncated).toBe(true);
    expect(cut.hunks.flatMap((h) => h.lines)).toHaveLength(10);
    expect(cut.additions).toBe(50);
  });
});

describe('one streamed message stored as several records', () => {
  const chunk = (content: string, sessionUpdate: string, acpMessageId?: string) =>
    msg({
      role: sessionUpdate === 'agent_thought_chunk' ? 'thought' : 'assistant',
      content,
      metadata: { sessionUpdate, ...(acpMessageId ? { acpMessageId } : {}) },
    });

  it('reads as one message, keyed by its first record, forking from its last', () => {
    const a = chunk('Done: appended "Hello from the ', 'agent_message_chunk', 'acp-1');
    const b = chunk('SAM demo agent!" to README.md.', 'agent_message_chunk', 'acp-1');
    const items = chatItems([a, b]);
    expect(shape(items)).toEqual([['assistant', 'Done: appended "Hello from the SAM demo agent!" to README.md.']]);
    expect(items[0]!.key).toBe(`m:${a.id}`);
    expect(items[0]!.kind === 'message' && items[0]!.message.id).toBe(b.id);
  });

  it('keeps apart what the agent said separately: another ACP message, a thought, a tool call between, a whole message', () => {
    const items = chatItems([
      chunk('first ', 'agent_message_chunk', 'acp-1'),
      chunk('second', 'agent_message_chunk', 'acp-2'),
      chunk('thinking', 'agent_thought_chunk', 'acp-2'),
      msg({ role: 'tool', toolCallId: 'call-1', content: 'Read file', toolStatus: 'completed' }),
      chunk('after the tool', 'agent_message_chunk', 'acp-2'),
      msg({ role: 'assistant', content: 'a whole message' }),
    ]);
    expect(shape(items)).toEqual([
      ['assistant', 'first '],
      ['assistant', 'second'],
      ['thought', 'thinking'],
      ['tool', 'call-1', 'completed'],
      ['assistant', 'after the tool'],
      ['assistant', 'a whole message'],
    ]);
  });
});
