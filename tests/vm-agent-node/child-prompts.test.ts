/**
 * Messages into a running child, over MCP with two demo agents on two machines (in-process
 * NodeAgents, the vm-agent and mcp functions under Deno): the parent's agent dispatches a sub-task
 * (`dispatch_task`), waits until the child's agent runs and sends it a message
 * (`send_message_to_subtask`). The message reaches the child's agent as a prompt — queued on its
 * machine until its current turn ends, then answered in the child's conversation — not only through
 * get_pending_messages, which no longer hands it out.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sh } from '../../vm-agent/test-support/git-repos.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { chatMessages, prepareMachine, settled, waitFor } from './harness.ts';
import { machineForNode, startNodeAgent, type Cleanups } from './node-runner.ts';

const stack = useFunctionsStack('child_prompts');
const cleanups: Cleanups = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('a parent agent messaging its running sub-task', () => {
  it('delivers send_message_to_subtask into the child’s conversation as a prompt after its current turn', async () => {
    const admin = stack.db.admin;
    const url = stack.functionUrl('vm-agent');
    const parentMessage =
      'Plan the docs in PLAN.md {{subtask: Write the docs in DOCS.md [stream:600]}} {{tell: also cover the FAQ}}';
    const machine = await prepareMachine(admin, url, parentMessage, {}, { SAM_DEMO_AGENT_DELAY_MS: '5' });
    cleanups.push(() => machine.cleanup());
    await startNodeAgent(cleanups, machine, url, { SAM_DEMO_AGENT_DELAY_MS: '5' });

    // The child is placed on a machine of its own: bring that machine up as the provider would.
    const child = await waitFor('the dispatched sub-task', async () => {
      const [t] = await admin`select id, chat_session_id, branch, auto_provisioned_node_id, triggered_by, dispatch_depth
                                from public.tasks where parent_task_id = ${machine.task.taskId}`;
      return t?.auto_provisioned_node_id ? t : null;
    });
    expect(child).toMatchObject({ triggered_by: 'mcp', dispatch_depth: 1 });
    const childMachine = await machineForNode(admin, cleanups, child.auto_provisioned_node_id as string);
    await startNodeAgent(cleanups, childMachine, url, { SAM_DEMO_AGENT_DELAY_MS: '5' });

    // The parent's message lands in the child's chat as its parent's words …
    const childSession = child.chat_session_id as string;
    const directive = await waitFor('the parent’s message in the child’s chat', async () =>
      (await chatMessages(admin, childSession)).find((m) => m.message_id.startsWith('directive:')),
    );
    expect(directive).toMatchObject({ role: 'user', content: 'also cover the FAQ' });
    // … and reaches the child's agent as a prompt: a second turn answers it.
    const done = await settled(admin, child.id as string, 120_000);
    expect(done.status).toBe('completed');
    const messages = await chatMessages(admin, childSession);
    const turnEnds = messages.filter((m) => m.content === 'Turn ended: end_turn').map((m) => messages.indexOf(m));
    expect(turnEnds).toHaveLength(2);
    // The prompt came after the first turn had ended, as the agent's next turn.
    const echoed = messages.findIndex(
      (m) => m.role === 'thought' && m.content.includes('A message from your parent task: also cover the FAQ'),
    );
    expect(echoed).toBeGreaterThan(turnEnds[0]!);
    // The first turn wrote DOCS.md; the prompt's turn (naming no file) noted the message in README.md.
    expect(sh(machine.bare, 'show', `${child.branch}:DOCS.md`)).toBe('- Write the docs in DOCS.md');
    expect(sh(machine.bare, 'show', `${child.branch}:README.md`)).toContain(
      '- A message from your parent task: also cover the FAQ',
    );

    // Delivered as a prompt, so get_pending_messages does not hand it out again.
    const [d] = await admin`select delivered_at from public.directives where task_id = ${child.id}`;
    expect(d!.delivered_at).not.toBeNull();
    const [cmd] =
      await admin`select status, result from public.node_commands where dedupe_key = ${directive.message_id}`;
    expect(cmd).toMatchObject({ status: 'done', result: { queued: true } });

    const parentMessages = await chatMessages(admin, machine.task.sessionId);
    const tell = parentMessages.find((m) => m.role === 'tool' && m.content === 'send_message_to_subtask');
    expect(parentMessages.filter((m) => m.tool_call_id === tell?.tool_call_id).at(-1)?.tool_status).toBe('completed');
  }, 240_000);
});
