/**
 * `sam`: SAM from a terminal. `sam help` lists the commands. Exit codes: 0 done (a followed task
 * completed, or waits for your reply), 1 failed (the command, or the followed task), 2 used wrongly.
 */
import { parseArgs } from 'node:util';
import { clearSession, readSession, sessionFile, writeSession } from './config.ts';
import { findDeployment, newClient, signedIn } from './client.ts';
import { CliError, usageError } from './errors.ts';
import { follow } from './follow.ts';
import { table, terminal, type Out } from './output.ts';
import { readPassword } from './password.ts';
import {
  call,
  checkId,
  listProjects,
  listTasks,
  pendingQuestions,
  resolveProfile,
  resolveProject,
  type TaskRow,
} from './tasks.ts';

export const HELP = `sam — SAM (Simple Agent Manager) from a terminal

  sam login <deployment-url> --email <email> [--password-stdin] [--key <publishable key>]
  sam logout | sam whoami
  sam projects
  sam tasks [--project <name|id>]
  sam task "<message>" [--project <name|id>] [--profile <name>] [--agent <type>] [--mode task|conversation] [--follow]
  sam follow <task-id>
  sam answer [<question-id> "<answer>"]       (without arguments: the agents' open questions)
  sam stop <task-id> [--grace <seconds>] [--reason <words>]   (a grace lets the agent commit first)
  sam retry <task-id> [--note <words>] [--follow]
  sam fork <task-id> "<message>" [--follow]

  --json prints JSON (one document, or one per line while following) for scripts.
  The sign-in (a refresh token, never the password) is kept 0600 in ${'$'}SAM_CONFIG_DIR or ~/.config/sam.
  The password comes from stdin, ${'$'}SAM_PASSWORD, or a prompt; never from an argument.`;

const OPTIONS = {
  json: { type: 'boolean' },
  follow: { type: 'boolean', short: 'f' },
  project: { type: 'string', short: 'p' },
  profile: { type: 'string' },
  agent: { type: 'string' },
  mode: { type: 'string' },
  email: { type: 'string' },
  key: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  reason: { type: 'string' },
  grace: { type: 'string' },
  note: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

const shortTask = (t: TaskRow) => [
  t.id,
  t.status +
    (t.execution_step && !['completed', 'failed', 'cancelled'].includes(t.status) ? `/${t.execution_step}` : ''),
  t.parent_task_id ? `↳ ${t.title}` : t.title,
];

/** What a followed or just-created task ends with, for people. */
function taskOutcome(out: Out, t: TaskRow): number {
  const ok = t.status === 'completed' || (t.status !== 'failed' && t.status !== 'cancelled');
  if (out.json) out.data({ type: 'outcome', task: t });
  else if (t.status === 'completed') {
    const where = t.branch ? (t.pushed === 'true' ? ` on ${t.branch}` : ` (${t.branch} not pushed)`) : '';
    out.line(`✓ completed${where}${t.pr_url ? ` — ${t.pr_url}` : ''}`);
    if (t.summary) out.line(t.summary);
  } else if (t.status === 'failed') out.line(`✗ failed: ${t.error_message ?? 'no reason given'}`);
  else if (t.status === 'cancelled') out.line(`✗ cancelled${t.error_message ? `: ${t.error_message}` : ''}`);
  else out.line(`… ${t.execution_step === 'awaiting_followup' ? 'waiting for your reply' : t.status}`);
  return ok ? 0 : 1;
}

async function started(
  out: Out,
  flags: Flags,
  created: { taskId: string },
  what: string,
  client: Awaited<ReturnType<typeof signedIn>>['client'],
): Promise<number> {
  if (!flags.follow) {
    if (out.json) out.data(created);
    else out.line(`${what} ${created.taskId}. Follow it with: sam follow ${created.taskId}`);
    return 0;
  }
  if (!out.json) out.err(`${what} ${created.taskId}; following…`);
  const { task } = await follow(client, created.taskId, out);
  return taskOutcome(out, task);
}

async function run(command: string, args: string[], flags: Flags, out: Out): Promise<number> {
  if (command === 'login') {
    const url = args[0];
    if (!url || !flags.email) throw usageError('Usage: sam login <deployment-url> --email <email> [--password-stdin]');
    const deployment = await findDeployment(url, flags.key);
    const password = await readPassword(flags['password-stdin'] === true);
    const client = newClient(deployment);
    const { data, error } = await client.auth.signInWithPassword({ email: flags.email, password });
    if (error || !data.session) throw new CliError(`Sign-in refused: ${error?.message ?? 'no session'}`);
    writeSession({
      ...deployment,
      email: data.user.email ?? flags.email,
      userId: data.user.id,
      refreshToken: data.session.refresh_token,
    });
    if (out.json) out.data({ signedIn: true, email: data.user.email, deployment: deployment.deployment });
    else out.line(`Signed in to ${deployment.deployment} as ${data.user.email}.`);
    return 0;
  }
  if (command === 'logout') {
    const had = clearSession();
    out.line(had ? `Signed out (removed ${sessionFile()}).` : 'You were not signed in.');
    return 0;
  }
  if (command === 'whoami') {
    const s = readSession();
    if (out.json) out.data({ email: s.email, userId: s.userId, deployment: s.deployment });
    else out.line(`${s.email} on ${s.deployment}`);
    return 0;
  }

  const session = await signedIn();
  const { client } = session;
  try {
    switch (command) {
      case 'projects': {
        const projects = await listProjects(client);
        if (out.json) out.data(projects);
        else if (projects.length === 0) out.line('No projects yet. Create one in the web app.');
        else out.line(table(projects.map((p) => [p.id, p.name, p.repository])));
        return 0;
      }
      case 'tasks': {
        const project = flags.project ? await resolveProject(client, flags.project) : undefined;
        const tasks = await listTasks(client, project?.id);
        if (out.json) out.data(tasks);
        else if (tasks.length === 0) out.line('No tasks yet. Start one with: sam task "<message>"');
        else out.line(table(tasks.map(shortTask)));
        return 0;
      }
      case 'task': {
        const message = args.join(' ').trim();
        if (!message) throw usageError('Usage: sam task "<message>" [--project <name>] [--follow]');
        if (flags.mode && !['task', 'conversation'].includes(flags.mode)) {
          throw usageError('--mode is task or conversation');
        }
        const project = await resolveProject(client, flags.project);
        const options: Record<string, unknown> = {};
        if (flags.profile) options.profile = await resolveProfile(client, project.id, flags.profile);
        if (flags.agent) options.agentType = flags.agent;
        if (flags.mode) options.taskMode = flags.mode;
        const created = await call<{ taskId: string; sessionId: string }>(
          client,
          'submit_task',
          { p_project: project.id, p_message: message, p_options: options },
          'start the task',
        );
        return started(out, flags, created, `Started task in ${project.name}:`, client);
      }
      case 'follow': {
        const { task } = await follow(client, checkId(args[0]), out);
        return taskOutcome(out, task);
      }
      case 'answer': {
        if (args.length === 0) {
          const questions = await pendingQuestions(client);
          if (out.json) out.data(questions);
          else if (questions.length === 0) out.line('No open questions.');
          else {
            for (const q of questions) {
              const choices = Array.isArray(q.options) && q.options.length ? ` [${q.options.join(' | ')}]` : '';
              out.line(`${q.id}  (task ${q.task_id ?? '—'}, ${q.category})\n  ${q.context}${choices}`);
            }
          }
          return 0;
        }
        const id = checkId(args[0], 'question');
        const answer = args.slice(1).join(' ').trim();
        if (!answer) throw usageError('Usage: sam answer <question-id> "<answer>"');
        const applied = await call<boolean>(
          client,
          'answer_human_input',
          { p_request: id, p_answer: answer },
          'answer',
        );
        if (!applied) throw new CliError('That question was already answered or has expired.');
        if (out.json) out.data({ answered: id });
        else out.line('Answered; the agent has it as its next prompt.');
        return 0;
      }
      case 'stop': {
        const id = checkId(args[0]);
        const grace = flags.grace === undefined ? 0 : Number(flags.grace);
        if (!Number.isInteger(grace) || grace < 0) throw usageError('--grace is a whole number of seconds');
        const stop = await call<{ status: string; stopping: boolean; deadline: string | null; changed: boolean }>(
          client,
          'stop_task',
          { p_task: id, p_grace_seconds: grace, p_reason: flags.reason ?? 'stopped from the sam CLI' },
          'stop the task',
        );
        if (out.json) out.data({ taskId: id, ...stop });
        else if (stop.stopping) out.line(`Stopping ${id}: the agent has until ${stop.deadline} to commit and finish.`);
        else if (stop.changed) out.line(`Stopped ${id}.`);
        else out.line(`Task ${id} had already ended (${stop.status}); nothing to stop.`);
        return 0;
      }
      case 'retry': {
        const id = checkId(args[0]);
        const created = await call<{ taskId: string }>(
          client,
          'retry_task',
          { p_task: id, p_description: flags.note ?? null },
          'retry the task',
        );
        return started(out, flags, created, 'Retrying as task', client);
      }
      case 'fork': {
        const id = checkId(args[0]);
        const message = args.slice(1).join(' ').trim();
        if (!message) throw usageError('Usage: sam fork <task-id> "<message>"');
        const created = await call<{ taskId: string }>(
          client,
          'fork_task',
          { p_task: id, p_message: message, p_options: {} },
          'fork the task',
        );
        return started(out, flags, created, 'Forked as task', client);
      }
      default:
        throw usageError(`Unknown command "${command}". See sam help.`);
    }
  } finally {
    await session.close();
  }
}

export async function main(argv: string[], out?: Out): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\nSee sam help.\n`);
    return 2;
  }
  const { values: flags, positionals } = parsed;
  const o = out ?? terminal(flags.json === true);
  const [command, ...args] = positionals;
  if (!command || command === 'help' || flags.help) {
    o.line(HELP);
    return command || flags.help ? 0 : 2;
  }
  try {
    return await run(command, args, flags, o);
  } catch (e) {
    if (e instanceof CliError) {
      if (o.json) o.data({ error: { message: e.message } });
      else o.err(e.message);
      return e.exitCode;
    }
    o.err(`sam: unexpected error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}
