/**
 * Budgets at turn boundaries, end to end with a real vm-agent (in-process NodeAgent), the vm-agent
 * function under Deno and the demo agent: a turn that outlives the task's agent-time budget is
 * cancelled at the limit, the task waits with a card in the chat and a `budget_reached`
 * notification, and once the owner continues with a new limit the agent picks the work up again
 * and the task completes. A turn budget pauses a conversation's follow-up the same way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { sh } from '../../vm-agent/test-support/git-repos.ts';
import { BUDGET_CONTINUE_PROMPT } from '../../vm-agent/node/workspace-runner.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { chatMessages, prepareMachine, settled, waitFor } from './harness.ts';
import { asOwner, startNodeAgent, type Cleanups } from './node-runner.ts';

const stack = useFunctionsStack('budget_cards');
const cleanups: Cleanups = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function budgetedMachine(message: string, settings: Record<string, string | number>, options = {}) {
  const admin = stack.db.admin;
  const machine = await prepareMachine(
    admin,
    stack.functionUrl('vm-agent'),
    message,
    options,
    undefined,
    async (_o, project) => {
      for (const [key, value] of Object.entries(settings)) {
        await admin`insert into public.project_settings (project_id, key, value) values (${project}, ${key}, ${JSON.stringify(value)}::text::jsonb)`;
      }
    },
  );
  cleanups.push(() => machine.cleanup());
  return machine;
}

const paused = (taskId: string) =>
  waitFor('the budget to pause', async () => {
    const [b] = await stack.db.admin`select * from public.task_budgets where task_id = ${taskId} and state = 'paused'`;
    return b ?? null;
  });

describe('a task at its budget', () => {
  it('cuts a turn at the agent-time budget, waits with a card, and goes on once the owner continues with a new limit', async () => {
    const admin = stack.db.admin;
    const machine = await budgetedMachine('Note the budget in README.md [stream:4000]', {
      task_max_wall_time: '2 seconds',
    });
    await startNodeAgent(cleanups, machine, stack.functionUrl('vm-agent'));

    const budget = await paused(machine.task.taskId);
    expect(budget).toMatchObject({ max_wall_ms: '2000', used_turns: 1, pauses: 1 });
    expect(Number(budget.used_wall_ms)).toBeGreaterThanOrEqual(2000);
    expect(budget.reason).toBe('the budget of 00:00:02 of agent time is used');
    const [task] = await admin`select status, execution_step from public.tasks where id = ${machine.task.taskId}`;
    expect(task).toMatchObject({ status: 'in_progress', execution_step: 'running' });
    // The cut turn's last line travels through the machine's outbox, which may deliver it after
    // the turn was counted (and the budget paused): it arrives, but not necessarily first.
    const messages = await waitFor('the cut turn in the chat', async () => {
      const all = await chatMessages(admin, machine.task.sessionId);
      return all.some((m) => m.content === 'Turn ended: cancelled') ? all : null;
    });
    const card = messages.find((m) => m.message_id === `budget:${machine.task.taskId}:1`);
    expect(card?.content).toBe(
      'Paused: the budget of 00:00:02 of agent time is used. Continue with a new limit, or stop the task.',
    );
    expect(card?.tool_metadata).toMatchObject({ kind: 'budget_reached', paused: true, limits: { wallMs: 2000 } });
    const [note] =
      await admin`select type, urgency from public.notifications where task_id = ${machine.task.taskId} and type = 'budget_reached'`;
    expect(note).toMatchObject({ type: 'budget_reached' });
    const [event] = await admin`select from_state, to_state from public.lifecycle_events
                                  where entity = 'task_budget' and entity_id = ${machine.task.taskId}`;
    expect(event).toMatchObject({ from_state: 'running', to_state: 'paused' });

    // A new limit at or below what was used leaves nothing to spend.
    await expect(
      asOwner(
        admin,
        machine.owner,
        (tx) => tx`select public.continue_task_budget(${machine.task.taskId}, '{"wallMs": 1000}')`,
      ),
    ).rejects.toMatchObject({ code: '22023' });
    const [go] = await asOwner(
      admin,
      machine.owner,
      (tx) => tx`select public.continue_task_budget(${machine.task.taskId}, '{"wallMs": 600000}') as r`,
    );
    expect(go!.r).toBe(true);
    const [again] = await asOwner(
      admin,
      machine.owner,
      (tx) => tx`select public.continue_task_budget(${machine.task.taskId}, '{"wallMs": 600000}') as r`,
    );
    expect(again!.r).toBe(false);

    const done = await settled(admin, machine.task.taskId, 90_000);
    expect(done.status).toBe('completed');
    const readme = sh(machine.bare, 'show', `${machine.task.branchName}:README.md`);
    expect(readme).toContain(`- ${BUDGET_CONTINUE_PROMPT}`);
    const [after] =
      await admin`select state, used_turns, max_wall_ms from public.task_budgets where task_id = ${machine.task.taskId}`;
    expect(after).toMatchObject({ state: 'running', used_turns: 2, max_wall_ms: '600000' });
    const outcome = (await chatMessages(admin, machine.task.sessionId)).find(
      (m) => m.message_id === `budget:${machine.task.taskId}:1:outcome`,
    );
    expect(outcome?.content).toBe('Continued with new limits.');
    const [cmd] = await admin`select status, result from public.node_commands where kind = 'resume_agent'`;
    expect(cmd).toMatchObject({ status: 'done', result: { resumed: true } });
  }, 150_000);

  it('holds a conversation’s follow-up at the turn budget and stops the task when the owner says stop', async () => {
    const admin = stack.db.admin;
    const machine = await budgetedMachine(
      'Note A in README.md [tokens:500]',
      { task_max_turns: 1 },
      { taskMode: 'conversation' },
    );
    await startNodeAgent(cleanups, machine, stack.functionUrl('vm-agent'));
    await waitFor('the first turn to end', async () =>
      (await chatMessages(admin, machine.task.sessionId)).some((m) => m.content === 'Turn ended: end_turn'),
    );
    // The agent ended its turn within the budget: nothing paused yet. (The turn is counted by its
    // own request, which may land after the turn's last line reached the chat.)
    const before = await waitFor('the first turn to be counted', async () => {
      const [b] =
        await admin`select state, used_turns, used_tokens from public.task_budgets where task_id = ${machine.task.taskId}`;
      return b && b.used_turns >= 1 ? b : null;
    });
    expect(before).toMatchObject({ state: 'running', used_turns: 1, used_tokens: '500' });

    await asOwner(
      admin,
      machine.owner,
      (tx) => tx`select public.post_message(${machine.task.sessionId}, 'Note B in README.md')`,
    );
    const budget = await paused(machine.task.taskId);
    expect(budget.reason).toBe('the budget of 1 agent turn is used');
    const [stop] = await asOwner(
      admin,
      machine.owner,
      (tx) => tx`select public.stop_task_budget(${machine.task.taskId}) as r`,
    );
    expect(stop!.r).toBe(true);
    const done = await settled(admin, machine.task.taskId);
    expect(done.status).toBe('cancelled');
    const messages = await chatMessages(admin, machine.task.sessionId);
    expect(messages.filter((m) => m.content === 'Turn ended: end_turn')).toHaveLength(1);
    expect(messages.find((m) => m.message_id === `budget:${machine.task.taskId}:1:outcome`)?.content).toBe(
      'Stopped at its budget.',
    );
  }, 120_000);
});
