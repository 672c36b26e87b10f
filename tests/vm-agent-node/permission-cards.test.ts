/**
 * Permission mode `ask`, end to end with a real vm-agent (in-process NodeAgent), the vm-agent and
 * mcp functions under Deno and the demo agent asking before its edit (`[permission]`): the request
 * becomes a card in the chat, the owner's answer reaches the agent through the machine's command
 * long-poll and the agent goes on; "always" is remembered for the task (by the control plane); a request nobody
 * answers times out with its outcome in the chat.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sh } from '../../vm-agent/test-support/git-repos.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { chatMessages, prepareMachine, settled, waitFor } from './harness.ts';
import { asOwner, pendingPermission, startNodeAgent, type Cleanups } from './node-runner.ts';

const stack = useFunctionsStack('permission_cards');
const cleanups: Cleanups = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/** A machine for a task whose project's default profile asks (`permission_mode = 'ask'`). */
async function askingMachine(
  message: string,
  options: Record<string, unknown> = {},
  settings: Record<string, string> = {},
) {
  const admin = stack.db.admin;
  const machine = await prepareMachine(
    admin,
    stack.functionUrl('vm-agent'),
    message,
    options,
    undefined,
    async (owner, project) => {
      await asOwner(admin, owner, async (tx) => {
        const [p] = await tx`insert into public.agent_profiles (project_id, owner_id, name, agent_type, permission_mode)
                           values (${project}, ${owner}, 'careful', 'demo', 'ask') returning id`;
        await tx`update public.projects set default_agent_profile_id = ${p!.id} where id = ${project}`;
      });
      for (const [key, value] of Object.entries(settings)) {
        await admin`insert into public.project_settings (project_id, key, value) values (${project}, ${key}, ${JSON.stringify(value)}::text::jsonb)`;
      }
    },
  );
  cleanups.push(() => machine.cleanup());
  return machine;
}

const answer = (owner: string, requestId: string, decision: string) =>
  asOwner(stack.db.admin, owner, (tx) => tx`select public.answer_permission_request(${requestId}, ${decision}) as r`);

describe('permission mode ask', () => {
  it('puts the agent’s edit to the owner as a card; answered "allow once", the agent goes on and the edit is pushed', async () => {
    const admin = stack.db.admin;
    const machine = await askingMachine('Note the plan in README.md [permission]');
    await startNodeAgent(cleanups, machine, stack.functionUrl('vm-agent'));

    const request = await pendingPermission(admin, machine.task.taskId);
    expect(request).toMatchObject({ title: 'Append a line to README.md', tool_kind: 'edit', status: 'pending' });
    expect(request.detail).toContain('README.md');
    // The file as the repository names it, not the machine's workspace directory.
    expect(String(request.detail).split('\n')[0]).toBe('README.md');
    expect(request.detail).not.toContain(machine.dir);
    const messages = await chatMessages(admin, machine.task.sessionId);
    const card = messages.find((m) => m.message_id === `permission:${request.id}`);
    expect(card).toMatchObject({ role: 'system', content: 'The agent asks to: Append a line to README.md' });
    expect(card!.tool_metadata).toMatchObject({ kind: 'permission_request', permissionRequestId: request.id });
    const [note] = await admin`select type from public.notifications where dedupe_key = ${`permission:${request.id}`}`;
    expect(note!.type).toBe('needs_input');

    // Someone else may not answer it.
    const stranger = (
      await admin`insert into auth.users (id, email) values (gen_random_uuid(), 'x@example.com') returning id`
    )[0]!.id as string;
    await expect(answer(stranger, request.id as string, 'allow_once')).rejects.toMatchObject({ code: '42501' });

    const [answered] = await answer(machine.owner, request.id as string, 'allow_once');
    expect(answered!.r).toBe(true);
    const done = await settled(admin, machine.task.taskId);
    expect(done.status).toBe('completed');
    expect(sh(machine.bare, 'show', `${machine.task.branchName}:README.md`)).toBe(
      '# Demo project\n- Note the plan in README.md',
    );

    const after = await chatMessages(admin, machine.task.sessionId);
    expect(after.find((m) => m.message_id === `permission:${request.id}:outcome`)?.content).toBe(
      'Allowed once: Append a line to README.md',
    );
    expect(after.filter((m) => m.tool_call_id === 'call-1-edit').at(-1)?.tool_status).toBe('completed');
    // The same answer again changes nothing; another one is refused.
    expect((await answer(machine.owner, request.id as string, 'allow_once'))[0]!.r).toBe(false);
    await expect(answer(machine.owner, request.id as string, 'reject')).rejects.toMatchObject({ code: '55000' });
    const [cmd] =
      await admin`select status, result from public.node_commands where dedupe_key = ${`permission:${request.id}`}`;
    expect(cmd).toMatchObject({ status: 'done', result: { applied: true } });
  }, 120_000);

  it('remembers "always" for the task: the next edit is allowed without a card', async () => {
    const admin = stack.db.admin;
    const machine = await askingMachine('Note A in README.md [permission]', { taskMode: 'conversation' });
    const { agent } = await startNodeAgent(cleanups, machine, stack.functionUrl('vm-agent'));
    const first = await pendingPermission(admin, machine.task.taskId);
    await answer(machine.owner, first.id as string, 'allow_always');
    await waitFor('the first turn to end', async () =>
      (await chatMessages(admin, machine.task.sessionId)).some((m) => m.content === 'Turn ended: end_turn'),
    );
    await asOwner(
      admin,
      machine.owner,
      (tx) => tx`select public.post_message(${machine.task.sessionId}, 'Note B in README.md [permission]')`,
    );
    await waitFor(
      'the second turn to end',
      async () =>
        (await chatMessages(admin, machine.task.sessionId)).filter((m) => m.content === 'Turn ended: end_turn')
          .length === 2,
    );
    // The vm-agent keeps no memory of its own: the control plane allowed the second edit at once,
    // on the strength of the first answer, and put no card in the chat.
    const requests = await admin`
      select id, status, allowed_by from public.permission_requests where task_id = ${machine.task.taskId}
       order by created_at`;
    expect(requests.map((r) => r.status)).toEqual(['allowed_always', 'allowed_always']);
    expect(requests[0]!.allowed_by).toBeNull();
    expect(requests[1]!.allowed_by).toBe(requests[0]!.id);
    const cards = (await chatMessages(admin, machine.task.sessionId)).filter((m) =>
      m.message_id.startsWith('permission:'),
    );
    expect(cards.map((m) => m.content)).toEqual([
      'The agent asks to: Append a line to README.md',
      'Always allowed for this task: Append a line to README.md',
    ]);
    const runner = [...agent.workspaces.values()][0]!;
    const readme = readFileSync(path.join(machine.dir, 'workspaces', runner.id, 'repo', 'README.md'), 'utf8');
    expect(readme).toBe('# Demo project\n- Note A in README.md\n- Note B in README.md\n');
  }, 120_000);

  it('refuses a request nobody answers within permission_request_ttl, and the chat says so', async () => {
    const admin = stack.db.admin;
    const machine = await askingMachine(
      'Note the plan in NOTES.md [permission]',
      {},
      {
        permission_request_ttl: '2 seconds',
      },
    );
    await startNodeAgent(cleanups, machine, stack.functionUrl('vm-agent'));
    const request = await pendingPermission(admin, machine.task.taskId);
    const done = await settled(admin, machine.task.taskId);
    expect(done.status).toBe('completed');
    const [r] = await admin`select status from public.permission_requests where id = ${request.id}`;
    expect(r!.status).toBe('timed_out');
    const messages = await chatMessages(admin, machine.task.sessionId);
    expect(messages.find((m) => m.message_id === `permission:${request.id}:outcome`)?.content).toMatch(
      /^No answer within 00:00:02, so the agent was refused: Append a line to NOTES.md$/,
    );
    expect(messages.filter((m) => m.tool_call_id === 'call-1-edit').at(-1)?.tool_status).toBe('failed');
    // Nothing was written: the branch has no NOTES.md.
    expect(() => sh(machine.bare, 'show', `${machine.task.branchName}:NOTES.md`)).toThrow();
    await expect(answer(machine.owner, request.id as string, 'allow_once')).rejects.toMatchObject({ code: '55000' });
    expect(existsSync(machine.dir)).toBe(true);
  }, 120_000);
});
