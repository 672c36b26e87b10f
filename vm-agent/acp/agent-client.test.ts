import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as acp from '@agentclientprotocol/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MessageBatch, MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import { createDemoAgent } from '../demo-agent/agent.ts';
import { DEMO_GREETING } from '../demo-agent/scenario.ts';
import { linkedStreams } from '../test-support/linked-streams.ts';
import { startTestMcpServer, type TestMcpServer } from '../test-support/mcp-server.ts';
import { AgentClient, type AgentClientOptions } from './agent-client.ts';

let workspace: string;
let stateDir: string;
let mcp: TestMcpServer;
const TOKEN = 'agent-token-abc123';

beforeEach(async () => {
  workspace = await mkdtemp(path.join(tmpdir(), 'sam-acp-ws-'));
  stateDir = await mkdtemp(path.join(tmpdir(), 'sam-acp-state-'));
  await writeFile(path.join(workspace, 'README.md'), '# Demo\n');
  mcp = await startTestMcpServer(TOKEN);
});
afterEach(async () => {
  await mcp.close();
  await rm(workspace, { recursive: true, force: true });
  await rm(stateDir, { recursive: true, force: true });
});

async function connect(extra: Partial<AgentClientOptions> = {}, delayMs = 0) {
  const records: MessageRecord[] = [];
  const streams = linkedStreams();
  const agentConnection = createDemoAgent({ delayMs, stateDir }).connect(streams.agent);
  const client = await AgentClient.connect(streams.client, {
    workspaceRoot: workspace,
    sessionId: 'sam-session-1',
    epoch: 'e1',
    onRecord: (r) => {
      records.push(r);
    },
    ...extra,
  });
  return { client, records, agentConnection };
}

describe('AgentClient with the demo agent over linked streams', () => {
  it("logs the first turn's first shown update once, as timestamps without content (for bench/agents-first-message.ts)", async () => {
    const lines: string[] = [];
    const before = Date.now();
    const { client } = await connect({ log: (l) => lines.push(l) });
    await client.newSession();
    expect(lines.filter((l) => l.startsWith('agent first update'))).toEqual([]);
    await client.prompt('add a greeting to README');
    await client.prompt('and another');
    const logged = lines.filter((l) => l.startsWith('agent first update '));
    expect(logged).toHaveLength(1);
    const timing = JSON.parse(logged[0]!.slice('agent first update '.length)) as Record<string, unknown>;
    expect(Object.keys(timing).sort()).toEqual(['firstUpdateAt', 'kind', 'promptAt']);
    expect(timing.promptAt).toBeGreaterThanOrEqual(before);
    expect(timing.firstUpdateAt).toBeGreaterThanOrEqual(timing.promptAt as number);
    expect(['agent_message_chunk', 'agent_thought_chunk', 'tool_call', 'tool_call_update', 'plan']).toContain(
      timing.kind,
    );
  });

  it('streams a whole turn into ordered, valid records and edits README through fs/write_text_file', async () => {
    const { client, records } = await connect({ mcp: { url: mcp.url, token: TOKEN } });
    await client.newSession();
    const stop = await client.prompt('add a greeting to README');
    expect(stop).toBe('end_turn');

    expect(await readFile(path.join(workspace, 'README.md'), 'utf8')).toBe(`# Demo\n${DEMO_GREETING}\n`);
    for (const r of records) expect(MessageRecord.safeParse(r).success, JSON.stringify(r)).toBe(true);
    // Coalesced chunk records still carry every character the agent streamed.
    const thought = records
      .filter((r) => r.role === 'thought')
      .map((r) => r.content)
      .join('');
    expect(thought).toBe(
      'The request is: "add a greeting to README". I will update README.md and report progress to SAM.',
    );
    const assistant = records
      .filter((r) => r.role === 'assistant')
      .map((r) => r.content)
      .join('');
    expect(assistant).toContain(`Done: appended "${DEMO_GREETING}" to README.md.`);

    // Tool calls keyed by toolCallId, pending → in_progress → completed.
    const edit = records.filter((r) => r.toolCallId === 'call-1-edit');
    expect(edit.map((r) => r.toolStatus)).toEqual(['pending', 'in_progress', 'completed']);
    expect(edit[0]?.metadata.kind).toBe('edit');
    expect(edit[2]?.metadata.content).toEqual([
      expect.objectContaining({ type: 'diff', path: 'README.md', newText: `# Demo\n${DEMO_GREETING}\n` }),
    ]);
    // The agent reported absolute paths in its cwd; records name the file as the repository does.
    expect(edit[0]?.metadata).toMatchObject({ locations: [{ path: 'README.md' }], rawInput: { path: 'README.md' } });
    expect(JSON.stringify(records)).not.toContain(workspace);
    expect(records.filter((r) => r.toolCallId === 'call-1-status').map((r) => r.toolStatus)).toEqual([
      'in_progress',
      'completed',
    ]);

    // MCP: both tools called with the agent token from the mcpServers entry.
    expect(mcp.calls.map((c) => c.tool)).toEqual(['update_task_status', 'complete_task']);
    expect(mcp.calls.every((c) => c.authorization === `Bearer ${TOKEN}`)).toBe(true);

    // Order: session start first, plan before the edit, turn end last; ids unique and increasing.
    expect(records[0]?.metadata.event).toBe('session_started');
    expect(records.at(-1)?.metadata).toMatchObject({ event: 'turn_end', stopReason: 'end_turn' });
    const seqs = records.map((r) => r.metadata.seq as number);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(records.map((r) => r.messageId)).size).toBe(records.length);
    const firstPlan = records.findIndex((r) => r.role === 'plan');
    expect(firstPlan).toBeGreaterThan(0);
    expect(firstPlan).toBeLessThan(records.findIndex((r) => r.toolCallId === 'call-1-edit'));
    expect(records.filter((r) => r.role === 'plan').at(-1)?.content).toBe(
      ['Read README.md', 'Append a line to README.md', 'Report progress to SAM', 'Complete the task']
        .map((c) => `[completed] ${c}`)
        .join('\n'),
    );
    expect(MessageBatch.safeParse({ messages: records.slice(0, 100) }).success).toBe(true);
  });

  it('without MCP configured the agent skips SAM tools; without fs capability it writes directly', async () => {
    const { client, records } = await connect({ fsCapability: false });
    await client.newSession();
    await client.prompt('add a greeting to README');
    expect(await readFile(path.join(workspace, 'README.md'), 'utf8')).toContain(DEMO_GREETING);
    expect(records.some((r) => r.toolCallId === 'call-1-status')).toBe(false);
    expect(mcp.calls).toEqual([]);
  });

  it('the demo agent ignores a prompt that names a file outside its cwd and edits README.md instead', async () => {
    const { client, records } = await connect();
    await client.newSession();
    await client.prompt('note this in ../escape.md please');
    const edit = records.filter((r) => r.toolCallId === 'call-1-edit');
    expect(edit.at(-1)?.toolStatus).toBe('completed');
    expect(await readFile(path.join(workspace, 'README.md'), 'utf8')).toContain('- note this in ../escape.md please');
    await expect(readFile(path.join(workspace, '..', 'escape.md'), 'utf8')).rejects.toThrow();
  });

  it('cancel stops a streaming turn with stopReason cancelled and no edit', async () => {
    const { client, records } = await connect({}, 20);
    await client.newSession();
    const turn = client.prompt('add a greeting to README [stream:500]');
    await new Promise((r) => setTimeout(r, 150));
    await client.cancel();
    expect(await turn).toBe('cancelled');
    expect(await readFile(path.join(workspace, 'README.md'), 'utf8')).toBe('# Demo\n');
    expect(records.at(-1)?.metadata).toMatchObject({ event: 'turn_end', stopReason: 'cancelled' });
    expect(records.some((r) => r.role === 'thought')).toBe(true);
  });

  it('session/load in a new connection replays history; replay is recorded only when asked', async () => {
    const first = await connect();
    const acpSessionId = await first.client.newSession();
    await first.client.prompt('add a greeting to README');
    first.client.close();

    const quiet = await connect({ epoch: 'e2' });
    await quiet.client.loadSession(acpSessionId);
    expect(quiet.records.map((r) => r.metadata.event)).toEqual(['session_loaded']);

    const replay = await connect({ epoch: 'e3', recordReplay: true });
    await replay.client.loadSession(acpSessionId);
    const roles = replay.records.map((r) => r.role);
    // The replayed prompt is the agent's echo of it, never a message of the user's.
    expect(roles).not.toContain('user');
    expect(replay.records[0]).toMatchObject({ role: 'assistant', metadata: { echo: 'user' } });
    expect(replay.records[0]?.content).toBe('add a greeting to README');
    expect(roles).toContain('tool');
    expect(
      replay.records
        .filter((r) => r.role === 'assistant')
        .map((r) => r.content)
        .join(''),
    ).toContain('Done:');
    // A second turn after load continues the session (tool ids of turn 2).
    await replay.client.prompt('add a greeting to README');
    expect(replay.records.some((r) => r.toolCallId === 'call-2-edit')).toBe(true);
  });
});

describe('permission requests', () => {
  async function ask(policy: AgentClientOptions['permissionPolicy'], options: acp.PermissionOption[]) {
    const streams = linkedStreams();
    let outcome: acp.RequestPermissionOutcome | null = null;
    acp
      .agent({ name: 'asker' })
      .onRequest(acp.methods.agent.initialize, () => ({ protocolVersion: acp.PROTOCOL_VERSION, agentCapabilities: {} }))
      .onRequest(acp.methods.agent.session.new, () => ({ sessionId: 's' }))
      .onRequest(acp.methods.agent.session.prompt, async ({ client }) => {
        const res = await client.request(acp.methods.client.session.requestPermission, {
          sessionId: 's',
          toolCall: { toolCallId: 't1', title: 'rm -rf build' },
          options,
        });
        outcome = res.outcome;
        return { stopReason: 'end_turn' };
      })
      .connect(streams.agent);
    const client = await AgentClient.connect(streams.client, {
      workspaceRoot: workspace,
      sessionId: 'p',
      onRecord: () => {},
      permissionPolicy: policy,
    });
    await client.newSession();
    await client.prompt('go');
    client.close();
    return outcome;
  }
  const options: acp.PermissionOption[] = [
    { optionId: 'always', name: 'Always', kind: 'allow_always' },
    { optionId: 'once', name: 'Once', kind: 'allow_once' },
    { optionId: 'no', name: 'No', kind: 'reject_once' },
  ];

  it('approves by default (preferring a one-time approval), rejects by policy, or asks a function', async () => {
    expect(await ask(undefined, options)).toEqual({ outcome: 'selected', optionId: 'once' });
    expect(await ask('reject', options)).toEqual({ outcome: 'selected', optionId: 'no' });
    const seen: string[] = [];
    const decide = (r: acp.RequestPermissionRequest) => {
      seen.push(r.toolCall.title ?? '');
      return 'reject' as const;
    };
    expect(await ask(decide, options)).toEqual({ outcome: 'selected', optionId: 'no' });
    expect(seen).toEqual(['rm -rf build']);
    expect(await ask('reject', options.slice(0, 2))).toEqual({ outcome: 'cancelled' });
  });

  it('the policy may choose "always" or leave the request unanswered (cancelled)', async () => {
    expect(await ask(() => 'approve_always', options)).toEqual({ outcome: 'selected', optionId: 'always' });
    expect(await ask(() => 'approve_always', options.slice(1))).toEqual({ outcome: 'selected', optionId: 'once' });
    expect(await ask(() => 'cancelled', options)).toEqual({ outcome: 'cancelled' });
  });
});

describe('the demo agent asks before it edits ([permission]) and reports token usage', () => {
  it('edits once the policy allows it, leaves the file alone when refused, and reports the tokens of each turn', async () => {
    const asked: acp.RequestPermissionRequest[] = [];
    let answer: 'approve' | 'reject' = 'reject';
    const { client, records } = await connect({
      permissionPolicy: (request) => {
        asked.push(request);
        return answer;
      },
    });
    await client.newSession();
    expect(await client.prompt('note the plan in README.md [permission] [tokens:1234]')).toBe('end_turn');
    expect(asked).toHaveLength(1);
    expect(asked[0]!.toolCall).toMatchObject({
      toolCallId: 'call-1-edit',
      kind: 'edit',
      title: 'Append a line to README.md',
      // What the user is asked about names the file as the repository does.
      locations: [{ path: 'README.md' }],
      rawInput: { path: 'README.md' },
    });
    expect(await readFile(path.join(workspace, 'README.md'), 'utf8')).toBe('# Demo\n');
    const refused = records.filter((r) => r.toolCallId === 'call-1-edit').at(-1);
    expect(refused).toMatchObject({ toolStatus: 'failed' });
    expect(client.lastTurnTokens).toBe(1234);

    answer = 'approve';
    expect(await client.prompt('note the plan in README.md [permission]')).toBe('end_turn');
    expect(asked).toHaveLength(2);
    expect(await readFile(path.join(workspace, 'README.md'), 'utf8')).toBe('# Demo\n- note the plan in README.md\n');
    expect(client.lastTurnTokens).toBeGreaterThan(0);
  });
});
