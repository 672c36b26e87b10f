import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as acp from '@agentclientprotocol/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { linkedStreams } from '../test-support/linked-streams.ts';
import { startTestMcpServer, type TestMcpServer } from '../test-support/mcp-server.ts';
import { createDemoAgent, demoOptionsFromEnv } from './agent.ts';
import { appendLine, DEMO_GREETING, planTurn, safeRelative, withAnswer } from './scenario.ts';

let cwd: string;
let mcp: TestMcpServer;
beforeEach(async () => {
  cwd = await mkdtemp(path.join(tmpdir(), 'sam-demo-'));
  await writeFile(path.join(cwd, 'README.md'), '# Hi');
  mcp = await startTestMcpServer('right-token');
});
afterEach(async () => {
  await mcp.close();
  await rm(cwd, { recursive: true, force: true });
});

/** A plain ACP client (SDK only, none of our client code) that logs what the agent does. */
async function rawClient(fsCapability: boolean) {
  const updates: acp.SessionUpdate[] = [];
  const fsCalls: string[] = [];
  const streams = linkedStreams();
  createDemoAgent({ delayMs: 0 }).connect(streams.agent);
  const connection = acp
    .client({ name: 'raw' })
    .onNotification(acp.methods.client.session.update, ({ params }) => void updates.push(params.update))
    .onRequest(acp.methods.client.fs.readTextFile, async ({ params }) => {
      fsCalls.push(`read ${params.path}`);
      return { content: await readFile(params.path, 'utf8') };
    })
    .onRequest(acp.methods.client.fs.writeTextFile, async ({ params }) => {
      fsCalls.push(`write ${params.path}`);
      await writeFile(params.path, params.content);
      return {};
    })
    .connect(streams.client);
  const init = await connection.agent.request(acp.methods.agent.initialize, {
    protocolVersion: acp.PROTOCOL_VERSION,
    clientCapabilities: { fs: { readTextFile: fsCapability, writeTextFile: fsCapability } },
  });
  return { connection, updates, fsCalls, init };
}

describe('demo agent (protocol level)', () => {
  it('streams thoughts, plan, messages and tool calls, and edits via the client fs when advertised', async () => {
    const { connection, updates, fsCalls, init } = await rawClient(true);
    expect(init.agentCapabilities).toMatchObject({ loadSession: true, mcpCapabilities: { http: true } });
    const { sessionId } = await connection.agent.request(acp.methods.agent.session.new, { cwd, mcpServers: [] });
    const res = await connection.agent.request(acp.methods.agent.session.prompt, {
      sessionId,
      prompt: [{ type: 'text', text: 'please add a greeting to README' }],
    });
    expect(res.stopReason).toBe('end_turn');
    expect(fsCalls).toEqual([`read ${path.join(cwd, 'README.md')}`, `write ${path.join(cwd, 'README.md')}`]);
    expect(await readFile(path.join(cwd, 'README.md'), 'utf8')).toBe(`# Hi\n${DEMO_GREETING}\n`);
    const kinds = updates.map((u) => u.sessionUpdate);
    expect(kinds[0]).toBe('agent_thought_chunk');
    expect(kinds.indexOf('plan')).toBeLessThan(kinds.indexOf('agent_message_chunk'));
    expect(kinds.indexOf('agent_message_chunk')).toBeLessThan(kinds.indexOf('tool_call'));
    const edit = updates.filter((u) => 'toolCallId' in u && u.toolCallId === 'call-1-edit');
    expect(edit.map((u) => ('status' in u ? u.status : null))).toEqual(['pending', 'in_progress', 'completed']);
    expect(kinds).not.toContain('user_message_chunk'); // the prompt is not echoed live
  });

  it('writes directly without the fs capability; a failing MCP server fails its tool call, not the turn', async () => {
    const { connection, updates, fsCalls } = await rawClient(false);
    const { sessionId } = await connection.agent.request(acp.methods.agent.session.new, {
      cwd,
      mcpServers: [
        { type: 'http', name: 'sam', url: mcp.url, headers: [{ name: 'Authorization', value: 'Bearer wrong' }] },
      ],
    });
    const res = await connection.agent.request(acp.methods.agent.session.prompt, {
      sessionId,
      prompt: [{ type: 'text', text: 'log this in notes/todo.md' }],
    });
    expect(res.stopReason).toBe('end_turn');
    expect(fsCalls).toEqual([]);
    expect(await readFile(path.join(cwd, 'notes/todo.md'), 'utf8')).toBe('- log this in notes/todo.md\n');
    const status = updates.filter((u) => 'toolCallId' in u && u.toolCallId === 'call-1-status');
    expect(status.at(-1)).toMatchObject({ status: 'failed' });
    expect(mcp.calls).toEqual([]);
  });

  it('session/load of an unknown session is an error', async () => {
    const { connection } = await rawClient(true);
    await expect(
      connection.agent.request(acp.methods.agent.session.load, { sessionId: 'nope', cwd, mcpServers: [] }),
    ).rejects.toMatchObject({ code: -32002 });
  });
});

describe('demo scenario', () => {
  it('is a pure function of the prompt', () => {
    expect(planTurn('add a greeting to README')).toEqual(planTurn('add a greeting to README'));
    expect(planTurn('add a greeting to README')).toMatchObject({ targetFile: 'README.md', line: DEMO_GREETING });
    expect(planTurn('write docs/guide.md [stream:7]')).toMatchObject({
      targetFile: 'docs/guide.md',
      line: '- write docs/guide.md',
      extraChunks: 7,
    });
  });

  it('asks the human with {{ask: question | choice | …}} and writes the answer into its line', () => {
    const turn = planTurn('Note the database in README.md {{ask: Which database? | Postgres | SQLite}}');
    expect(turn).toMatchObject({
      ask: { question: 'Which database?', options: ['Postgres', 'SQLite'] },
      line: '- Note the database in README.md',
    });
    expect(planTurn('Note it {{ask: Tabs or spaces?}}').ask).toEqual({ question: 'Tabs or spaces?', options: [] });
    expect(planTurn('Note it').ask).toBeNull();
    const answered = withAnswer(turn, 'Postgres');
    expect(answered.line).toBe('- Note the database in README.md (answer: Postgres)');
    expect(answered.summary.join('')).toBe(
      'Done: appended "- Note the database in README.md (answer: Postgres)" to README.md.',
    );
  });

  it('keeps targets inside the cwd and appends lines cleanly', () => {
    expect(['/etc/passwd', '../x.md', 'a/../../x.md', '.'].map(safeRelative)).toEqual([null, null, null, null]);
    expect(safeRelative('a/./b.md')).toBe('a/b.md');
    expect(appendLine('', 'x')).toBe('x\n');
    expect(appendLine('a', 'x')).toBe('a\nx\n');
    expect(appendLine('a\n', 'x')).toBe('a\nx\n');
  });

  it('reads its pace from the environment', () => {
    expect(demoOptionsFromEnv({ SAM_DEMO_AGENT_DELAY_MS: '40' }).delayMs).toBe(40);
    expect(demoOptionsFromEnv({ SAM_DEMO_AGENT_DELAY_MS: 'x' }).delayMs).toBe(5);
  });
});
