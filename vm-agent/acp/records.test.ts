import type { SessionUpdate } from '@agentclientprotocol/sdk';
import { describe, expect, it } from 'vitest';
import { MAX_CONTENT_BYTES, MessageRecord, utf8Bytes } from '../../functions/_shared/common/contracts/messages.ts';
import { boundMetadata, MessageRecorder, truncateUtf8 } from './records.ts';

function recorder(coalesceMaxBytes?: number, workspaceRoot?: string) {
  const records: MessageRecord[] = [];
  let t = 0;
  const r = new MessageRecorder(
    {
      sessionId: 'sess',
      epoch: 'ep',
      coalesceMaxBytes,
      workspaceRoot,
      now: () => new Date(Date.UTC(2026, 0, 1) + t++),
    },
    (rec) => records.push(rec),
  );
  return { r, records };
}
const text = (
  kind: 'agent_message_chunk' | 'agent_thought_chunk' | 'user_message_chunk',
  t: string,
  messageId?: string,
) =>
  ({ sessionUpdate: kind, content: { type: 'text', text: t }, ...(messageId ? { messageId } : {}) }) as SessionUpdate;

describe('MessageRecorder', () => {
  it('coalesces consecutive chunks of one role, splits on role change, keeps every character', () => {
    const { r, records } = recorder();
    r.handle(text('agent_thought_chunk', 'thinking '));
    r.handle(text('agent_thought_chunk', 'hard'));
    r.handle(text('agent_message_chunk', 'Hello '));
    r.handle(text('agent_message_chunk', 'world'));
    r.handle(text('agent_thought_chunk', 'again'));
    expect(records.map((x) => [x.role, x.content])).toEqual([
      ['thought', 'thinking hard'],
      ['assistant', 'Hello world'],
    ]);
    r.flush();
    expect(records.map((x) => x.messageId)).toEqual(['ep-0', 'ep-2', 'ep-4']);
    expect(records[2]).toMatchObject({ role: 'thought', content: 'again', metadata: { seq: 4, chunks: 1 } });
    expect(records[0]?.metadata).toMatchObject({ seq: 0, chunks: 2 });
  });

  it('splits coalesced chunks at the byte cap and at a new ACP messageId', () => {
    const { r, records } = recorder(10);
    for (const t of ['12345', '67890', 'abc']) r.handle(text('agent_message_chunk', t));
    r.handle(text('agent_message_chunk', 'x', 'm2'));
    r.flush();
    expect(records.map((x) => x.content)).toEqual(['1234567890', 'abc', 'x']);
    expect(records[2]?.metadata.acpMessageId).toBe('m2');
  });

  it('maps tool calls and their updates to tool records keyed by toolCallId', () => {
    const { r, records } = recorder();
    r.handle(text('agent_message_chunk', 'Let me edit'));
    r.handle({ sessionUpdate: 'tool_call', toolCallId: 't1', title: 'Edit a.ts', kind: 'edit', status: 'pending' });
    r.handle({ sessionUpdate: 'tool_call_update', toolCallId: 't1', status: 'in_progress' });
    r.handle({
      sessionUpdate: 'tool_call_update',
      toolCallId: 't1',
      status: 'completed',
      content: [{ type: 'content', content: { type: 'text', text: 'ok' } }],
    });
    expect(records.map((x) => [x.role, x.toolCallId, x.toolStatus, x.content])).toEqual([
      ['assistant', undefined, undefined, 'Let me edit'],
      ['tool', 't1', 'pending', 'Edit a.ts'],
      ['tool', 't1', 'in_progress', ''],
      ['tool', 't1', 'completed', 'ok'],
    ]);
    expect(records[1]?.metadata).toMatchObject({ sessionUpdate: 'tool_call', kind: 'edit' });
    for (const x of records) expect(MessageRecord.safeParse(JSON.parse(JSON.stringify(x))).success).toBe(true);
  });

  it('records paths inside the workspace root relative to it, in content and every string of the metadata', () => {
    const root = '/m/workspaces/w1/repo';
    const { r, records } = recorder(undefined, `${root}/`);
    r.handle(text('agent_message_chunk', `I will edit ${root}/src`));
    r.handle(text('agent_message_chunk', '/a.ts, not /m/workspaces/w1/repo2/a.ts.'));
    r.handle({
      sessionUpdate: 'tool_call',
      toolCallId: 't1',
      title: `Edit ${root}/src/a.ts`,
      kind: 'edit',
      status: 'pending',
      locations: [{ path: `${root}/src/a.ts`, line: 2 }, { path: root }],
      rawInput: { file_path: `${root}/src/a.ts`, cwd: root, old_string: 'x', new_string: 'y' },
    });
    r.handle({
      sessionUpdate: 'tool_call_update',
      toolCallId: 't1',
      status: 'completed',
      content: [
        { type: 'diff', path: `${root}/src/a.ts`, oldText: 'x', newText: 'y' },
        { type: 'content', content: { type: 'text', text: `Updated ${root}/src/a.ts` } },
      ],
      rawOutput: { output: `${root}/src/a.ts: 1 change`, files: [`${root}/src/a.ts`, '/etc/hosts'] },
    });
    r.handle({
      sessionUpdate: 'tool_call_update',
      toolCallId: 't1',
      content: [{ type: 'diff', path: `${root}/b.ts`, newText: 'z' }],
    });
    r.flush();
    expect(records.map((x) => x.content)).toEqual([
      // Chunks are joined first: a path split across two of them is still rewritten.
      'I will edit src/a.ts, not /m/workspaces/w1/repo2/a.ts.',
      'Edit src/a.ts',
      'edited src/a.ts\nUpdated src/a.ts',
      'edited b.ts',
    ]);
    expect(records[1]?.metadata).toMatchObject({
      title: 'Edit src/a.ts',
      locations: [{ path: 'src/a.ts', line: 2 }, { path: '.' }],
      rawInput: { file_path: 'src/a.ts', cwd: '.', old_string: 'x', new_string: 'y' },
    });
    expect(records[2]?.metadata).toMatchObject({
      content: [
        { type: 'diff', path: 'src/a.ts', oldText: 'x', newText: 'y' },
        { type: 'content', content: { type: 'text', text: 'Updated src/a.ts' } },
      ],
      rawOutput: { output: 'src/a.ts: 1 change', files: ['src/a.ts', '/etc/hosts'] },
    });
    expect(records.map((x) => x.toolCallId)).toEqual([undefined, 't1', 't1', 't1']);
    expect(JSON.stringify(records)).not.toContain(`${root}/`);
    expect(JSON.stringify(records)).not.toContain(`"${root}"`);
  });

  it('without a workspace root, records paths as the agent reported them', () => {
    const { r, records } = recorder();
    r.handle({
      sessionUpdate: 'tool_call',
      toolCallId: 't',
      title: 'Read /w/repo/a',
      locations: [{ path: '/w/repo/a' }],
    });
    expect(records[0]).toMatchObject({ content: 'Read /w/repo/a', metadata: { locations: [{ path: '/w/repo/a' }] } });
  });

  it('maps plans, notices, other updates and SAM events, never dropping an update', () => {
    const { r, records } = recorder();
    r.handle({ sessionUpdate: 'plan', entries: [{ content: 'Step', priority: 'high', status: 'in_progress' }] });
    r.handle({ sessionUpdate: 'current_mode_update', currentModeId: 'code' });
    r.handle({ sessionUpdate: 'notice', severity: 'warning', title: 'Rate limited', description: 'slowing down' });
    r.handle(text('user_message_chunk', 'hi'));
    r.system('Turn ended: end_turn', { event: 'turn_end' });
    expect(records.map((x) => [x.role, x.content])).toEqual([
      ['plan', '[in_progress] Step'],
      ['system', 'current_mode_update'],
      ['system', 'Rate limited\nslowing down'],
      ['assistant', 'hi'],
      ['system', 'Turn ended: end_turn'],
    ]);
    expect(records[1]?.metadata).toMatchObject({ update: { currentModeId: 'code' } });
    expect(records.map((x) => x.metadata.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it("records an agent's user_message_chunk as the agent's echo, never as the user's own message", () => {
    const { r, records } = recorder();
    r.handle(text('user_message_chunk', 'add a '));
    r.handle(text('user_message_chunk', 'greeting'));
    r.handle(text('agent_message_chunk', 'On it.'));
    r.handle({ sessionUpdate: 'user_message_chunk', content: { type: 'resource_link', uri: 'file:///a', name: 'a' } });
    r.flush();
    // No record claims the user's role; the echo neither merges into the agent's own reply.
    expect(records.map((x) => x.role)).not.toContain('user');
    expect(records.map((x) => [x.role, x.content, x.metadata.echo])).toEqual([
      ['assistant', 'add a greeting', 'user'],
      ['assistant', 'On it.', undefined],
      ['assistant', 'file:///a', 'user'],
    ]);
    expect(records[0]?.metadata).toMatchObject({ sessionUpdate: 'user_message_chunk', chunks: 2 });
    for (const x of records) expect(MessageRecord.safeParse(x).success).toBe(true);
  });

  it('truncates oversized content and metadata to the contract limits', () => {
    const { r, records } = recorder(10 * MAX_CONTENT_BYTES);
    r.handle(text('agent_message_chunk', 'é'.repeat(MAX_CONTENT_BYTES)));
    r.handle({ sessionUpdate: 'tool_call', toolCallId: 't', title: 'big', rawInput: { blob: 'z'.repeat(500_000) } });
    r.flush();
    expect(utf8Bytes(records[0]?.content ?? '')).toBeLessThanOrEqual(MAX_CONTENT_BYTES);
    expect(records[0]?.metadata.contentTruncated).toBe(true);
    expect(utf8Bytes(JSON.stringify(records[1]?.metadata))).toBeLessThanOrEqual(64 * 1024);
    expect(records[1]?.metadata.truncated).toBe(true);
    for (const x of records) expect(MessageRecord.safeParse(x).success).toBe(true);
  });

  it('truncateUtf8 never splits a character; boundMetadata leaves small metadata alone', () => {
    expect(truncateUtf8('aé', 2)).toEqual({ text: 'a', truncated: true });
    expect(truncateUtf8('abc', 3)).toEqual({ text: 'abc', truncated: false });
    const small = { a: 1 };
    expect(boundMetadata(small)).toBe(small);
  });
});
