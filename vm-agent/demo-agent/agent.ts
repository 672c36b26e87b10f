/**
 * A real ACP agent that needs no model (built on the agent side of the official ACP SDK). For a
 * prompt it streams thoughts and message chunks, sends a plan, edits a file in the session's cwd
 * through tool calls (via the client's `fs/*` methods when advertised, else directly), and calls
 * SAM's MCP tools when MCP servers are configured. Supports `session/load` (replays history) and
 * `session/cancel`. Pace: `delayMs` between updates.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as acp from '@agentclientprotocol/sdk';
import { SessionHistory } from './history.ts';
import { askHuman, askPermission, delegate } from './asks.ts';
import { callSamTool } from './mcp-tools.ts';
import { appendLine, planTurn, withAnswer } from './scenario.ts';

export const DEMO_AGENT_NAME = 'sam-demo-agent';
export const DEFAULT_DEMO_DELAY_MS = 5;

export type DemoAgentOptions = {
  /** Pause before each update (and tool step); default {@link DEFAULT_DEMO_DELAY_MS}. */
  delayMs?: number;
  /** Directory to persist session history in, so `session/load` works after a restart. */
  stateDir?: string | null;
  /** A line written to stderr at every prompt (diagnostics; tests plant secrets in it). */
  stderrNote?: string | null;
};

/** Options from the environment: `SAM_DEMO_AGENT_DELAY_MS`, `SAM_DEMO_AGENT_STATE_DIR`, `SAM_DEMO_AGENT_STDERR`. */
export function demoOptionsFromEnv(env: NodeJS.ProcessEnv): DemoAgentOptions {
  const delay = Number(env.SAM_DEMO_AGENT_DELAY_MS);
  return {
    delayMs: Number.isFinite(delay) && delay >= 0 ? delay : DEFAULT_DEMO_DELAY_MS,
    stateDir: env.SAM_DEMO_AGENT_STATE_DIR || null,
    stderrNote: env.SAM_DEMO_AGENT_STDERR || null,
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function promptText(blocks: acp.ContentBlock[]): string {
  return blocks.map((b) => (b.type === 'text' ? b.text : b.type === 'resource_link' ? b.uri : '')).join('\n');
}

export function createDemoAgent(options: DemoAgentOptions = {}): acp.AgentApp {
  const delayMs = options.delayMs ?? DEFAULT_DEMO_DELAY_MS;
  const history = new SessionHistory(options.stateDir ?? null);
  const turns = new Map<string, AbortController>();
  let clientCaps: acp.ClientCapabilities = {};

  return acp
    .agent({ name: DEMO_AGENT_NAME })
    .onRequest(acp.methods.agent.initialize, ({ params }) => {
      clientCaps = params.clientCapabilities ?? {};
      return {
        protocolVersion: acp.PROTOCOL_VERSION,
        agentCapabilities: { loadSession: true, mcpCapabilities: { http: true, sse: false } },
        agentInfo: { name: DEMO_AGENT_NAME, title: 'SAM demo agent', version: '1.0.0' },
        authMethods: [],
      };
    })
    .onRequest(acp.methods.agent.session.new, ({ params }) => {
      if (!path.isAbsolute(params.cwd))
        throw acp.RequestError.invalidParams({ cwd: params.cwd }, 'cwd must be absolute');
      const sessionId = randomUUID();
      history.create(sessionId, params.cwd, params.mcpServers);
      return { sessionId };
    })
    .onRequest(acp.methods.agent.session.load, async ({ params, client }) => {
      const session = history.load(params.sessionId, params.mcpServers);
      if (!session) throw acp.RequestError.sessionNotFound(params.sessionId);
      for (const update of session.updates) {
        await client.notify(acp.methods.client.session.update, { sessionId: params.sessionId, update });
      }
      return {};
    })
    .onNotification(acp.methods.agent.session.cancel, ({ params }) => {
      turns.get(params.sessionId)?.abort();
    })
    .onRequest(acp.methods.agent.session.prompt, async ({ params, client, signal }) => {
      const sessionId = params.sessionId;
      if (options.stderrNote) process.stderr.write(`${options.stderrNote}\n`);
      const session = history.load(sessionId);
      if (!session) throw acp.RequestError.sessionNotFound(sessionId);
      turns.get(sessionId)?.abort();
      const turn = new AbortController();
      turns.set(sessionId, turn);
      const abort = () => turn.abort();
      signal.addEventListener('abort', abort, { once: true });
      const cancelled = () => turn.signal.aborted;

      const send = async (update: acp.SessionUpdate) => {
        await sleep(delayMs, turn.signal);
        if (cancelled()) return false;
        history.record(sessionId, update);
        await client.notify(acp.methods.client.session.update, { sessionId, update });
        return true;
      };
      const text = promptText(params.prompt);
      let plan = planTurn(text);
      const n = session.turns + 1;
      const file = path.join(session.cwd, plan.targetFile);
      const entries = (done: number): acp.PlanEntry[] =>
        plan.plan.map((content, i) => ({
          content,
          priority: 'medium',
          status: i < done ? 'completed' : i === done ? 'in_progress' : 'pending',
        }));

      try {
        // The prompt itself goes into the history (not re-sent live) so a replay shows the whole turn.
        history.record(sessionId, { sessionUpdate: 'user_message_chunk', content: { type: 'text', text } });
        for (const chunk of plan.thoughts) {
          if (!(await send({ sessionUpdate: 'agent_thought_chunk', content: { type: 'text', text: chunk } }))) break;
        }
        for (let i = 0; i < plan.extraChunks && !cancelled(); i++) {
          // Numbered, so a reader can count that every chunk arrived exactly once.
          await send({ sessionUpdate: 'agent_thought_chunk', content: { type: 'text', text: `[#${i + 1}]` } });
        }
        if (!cancelled()) await send({ sessionUpdate: 'plan', entries: entries(0) });
        for (const chunk of plan.intro) {
          if (!(await send({ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: chunk } }))) break;
        }

        // `{{ask: …}}`: the human's answer first (over SAM's MCP tools); it goes into the line.
        if (plan.ask && !cancelled() && session.mcpServers.length > 0) {
          const answer = await askHuman(session.mcpServers, plan.ask, n, send, turn.signal);
          if (answer !== null) plan = withAnswer(plan, answer);
        }

        // Tool call 1: read the target file.
        const readId = `call-${n}-read`;
        let existing = '';
        if (!cancelled()) {
          await send({
            sessionUpdate: 'tool_call',
            toolCallId: readId,
            title: `Read ${plan.targetFile}`,
            kind: 'read',
            status: 'pending',
            locations: [{ path: file }],
          });
          await send({ sessionUpdate: 'tool_call_update', toolCallId: readId, status: 'in_progress' });
          existing = await readTarget(client, clientCaps, sessionId, file);
          await send({ sessionUpdate: 'tool_call_update', toolCallId: readId, status: 'completed' });
          await send({ sessionUpdate: 'plan', entries: entries(1) });
        }

        // Tool call 2: append the line.
        if (!cancelled()) {
          const editId = `call-${n}-edit`;
          const next = appendLine(existing, plan.line);
          await send({
            sessionUpdate: 'tool_call',
            toolCallId: editId,
            title: `Append a line to ${plan.targetFile}`,
            kind: 'edit',
            status: 'pending',
            locations: [{ path: file }],
            rawInput: { path: file, line: plan.line },
          });
          // `[permission]`: the edit waits for the client's permission (SAM asks the user in `ask` mode).
          const allowed =
            !plan.askPermission || (await askPermission(client, sessionId, file, plan, editId, turn.signal));
          if (!allowed && !cancelled()) {
            await send({
              sessionUpdate: 'tool_call_update',
              toolCallId: editId,
              status: 'failed',
              content: [
                {
                  type: 'content',
                  content: { type: 'text', text: `Permission refused: ${plan.targetFile} is unchanged.` },
                },
              ],
            });
          }
          if (allowed && !cancelled())
            await send({ sessionUpdate: 'tool_call_update', toolCallId: editId, status: 'in_progress' });
          if (allowed && !cancelled()) {
            const failure = await writeTarget(client, clientCaps, sessionId, file, next).then(
              () => null,
              (error: unknown) => (error instanceof Error ? error.message : String(error)),
            );
            await send({
              sessionUpdate: 'tool_call_update',
              toolCallId: editId,
              status: failure === null ? 'completed' : 'failed',
              content:
                failure === null
                  ? [{ type: 'diff', path: file, oldText: existing, newText: next }]
                  : [{ type: 'content', content: { type: 'text', text: failure } }],
            });
            await send({ sessionUpdate: 'plan', entries: entries(2) });
          }
        }

        // SAM's MCP tools, when configured.
        const mcpStep = async (tool: string, args: Record<string, unknown>, id: string) => {
          if (cancelled() || session.mcpServers.length === 0) return;
          await send({
            sessionUpdate: 'tool_call',
            toolCallId: id,
            title: tool,
            kind: 'other',
            status: 'in_progress',
            rawInput: args,
          });
          const result = await callSamTool(session.mcpServers, tool, args, turn.signal);
          await send({
            sessionUpdate: 'tool_call_update',
            toolCallId: id,
            status: result?.ok ? 'completed' : 'failed',
            content: [{ type: 'content', content: { type: 'text', text: result?.text ?? 'no MCP server' } }],
          });
        };
        // `{{subtask: …}}` / `{{tell: …}}`: hand work to a sub-task and message it while it runs.
        if (plan.subtask && !cancelled() && session.mcpServers.length > 0) {
          await delegate(session.mcpServers, plan.subtask, plan.tell, n, send, turn.signal);
        }
        await mcpStep('update_task_status', { message: `Appended a line to ${plan.targetFile}` }, `call-${n}-status`);
        if (!cancelled()) await send({ sessionUpdate: 'plan', entries: entries(3) });
        for (const chunk of plan.summary) {
          if (!(await send({ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: chunk } }))) break;
        }
        await mcpStep('complete_task', { summary: plan.summary.join('') }, `call-${n}-complete`);
        if (!cancelled()) await send({ sessionUpdate: 'plan', entries: entries(4) });
        // Token usage as some agents report it (ACP's experimental `usage`): SAM counts it against budgets.
        const usage = { inputTokens: plan.tokens, outputTokens: 0, totalTokens: plan.tokens };
        return { stopReason: cancelled() ? 'cancelled' : 'end_turn', usage } as acp.PromptResponse;
      } finally {
        signal.removeEventListener('abort', abort);
        if (turns.get(sessionId) === turn) turns.delete(sessionId);
      }
    });
}

async function readTarget(
  client: acp.AgentContext,
  caps: acp.ClientCapabilities,
  sessionId: string,
  file: string,
): Promise<string> {
  try {
    if (caps.fs?.readTextFile) {
      return (await client.request(acp.methods.client.fs.readTextFile, { sessionId, path: file })).content;
    }
    return await readFile(file, 'utf8');
  } catch {
    return ''; // a missing file starts empty
  }
}

async function writeTarget(
  client: acp.AgentContext,
  caps: acp.ClientCapabilities,
  sessionId: string,
  file: string,
  content: string,
): Promise<void> {
  if (caps.fs?.writeTextFile) {
    await client.request(acp.methods.client.fs.writeTextFile, { sessionId, path: file, content });
  } else {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content, 'utf8');
  }
}
