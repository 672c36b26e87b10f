/**
 * What each orchestrator job does. A job's side effects are outside Postgres (a cloud, GitHub), so
 * every handler is written to be run again after a crash at any point: it looks at the state first,
 * and the SQL functions it calls are guarded and repeat-safe.
 *
 *   provision_node  bootstrap token → provider.createMachine → node_provisioned (fenced by the attempt)
 *   destroy_node    provider.deleteMachine of every machine labelled with the node → mark_node_destroyed
 *
 * The provider is the node's (`./machines.ts`): local from the registry, Hetzner/Scaleway built from
 * the owner's stored credential. A ProviderError that cannot be fixed by trying again (`permanent`:
 * bad token, quota, invalid input, no credential) ends the job at once; one with `retryAfterMs`
 * (429, 5xx) is tried again no earlier than the API asked.
 *   open_pr         GitHub: open or adopt the task's pull request (open-pr.ts); local repositories: nothing to do
 *   generate_title  a model's title (platform model, else the owner's key) → set_generated_title; truncation stays otherwise
 *   notify          the notification is already in the app; no other channel is configured
 */
import { resolveCredential } from '../credentials/store.ts';
import type { GitHubApp } from '../github/app.ts';
import type { Sql } from '../db.ts';
import { HttpError } from '../http-error.ts';
import { installationLabels, machineLabels, machineName, nodeLabels, type VmSize } from '../providers/provider.ts';
import type { CloudFactoryOptions, ProviderRegistry } from '../providers/registry.ts';
import { defaultBaseUrl, titleConfigFrom, type TitleApi, type TitleConfig, type TitleModel } from '../titles/config.ts';
import { generateTitle as titleFor, type Clock } from '../titles/generate.ts';
import { providerFor } from './machines.ts';
import { openPr } from './open-pr.ts';
import { asOrchestrator } from './system.ts';

export type JobKind = 'provision_node' | 'destroy_node' | 'open_pr' | 'generate_title' | 'notify';

/** A claimed `orchestrator_jobs` row. */
export interface Job {
  id: string;
  kind: JobKind | string;
  owner_id: string | null;
  project_id: string | null;
  task_id: string | null;
  node_id: string | null;
  payload: Record<string, unknown>;
  /** This claim's attempt number: the fence complete/fail_orchestrator_job check. */
  attempts: number;
  max_attempts: number;
}

export interface JobContext {
  sql: Sql;
  providers: ProviderRegistry;
  /** Where machines register: `${SUPABASE_URL}/functions/v1/vm-agent`. */
  controlPlaneUrl: string;
  /** Title settings (`TASK_TITLE_*`); none configured: titles use the owner's key or stay truncated. */
  titles?: TitleConfig;
  /** The credential key (`SAM_CREDENTIAL_KEY`), to use a task owner's own model key for its title. */
  credentialKey?: CryptoKey | null;
  /** The clock title retries wait on (tests pass a fake one). */
  clock?: Clock;
  /** The operator's GitHub App (`GITHUB_APP_*`): pull requests; none configured: open_pr fails in words. */
  github?: GitHubApp | null;
  /** How cloud providers are reached: the vm-agent bundle machines install, API roots (tests: the fakes). */
  clouds?: CloudFactoryOptions;
}

export type JobResult = Record<string, unknown>;

interface NodeRow {
  id: string;
  owner_id: string;
  status: string;
  provider: string;
  location: string | null;
  vm_size: VmSize;
  provider_instance_id: string | null;
}

async function readNode(ctx: JobContext, nodeId: string): Promise<NodeRow | null> {
  const [row] = await asOrchestrator(
    ctx.sql,
    (tx) =>
      tx`select id, owner_id, status::text as status, provider, location, vm_size::text as vm_size,
                provider_instance_id
           from public.nodes where id = ${nodeId}`,
  );
  return (row as NodeRow | undefined) ?? null;
}

async function provisionNode(ctx: JobContext, job: Job): Promise<JobResult> {
  if (!job.node_id) return { skipped: 'the job names no node' };
  const node = await readNode(ctx, job.node_id);
  if (!node) return { skipped: 'the node no longer exists' };
  if (node.status !== 'provisioning') return { skipped: `the node is ${node.status}` };
  if (node.provider_instance_id) return { providerInstanceId: node.provider_instance_id, alreadyCreated: true };
  const provider = await providerFor(ctx, {
    provider: node.provider,
    ownerId: node.owner_id,
    projectId: job.project_id,
    location: node.location,
  });

  // An earlier attempt may have created a machine and failed before recording it (its answer lost).
  // A cloud adopts it: the retried create finds it by name and node label and answers with it, and
  // the machine boots with that attempt's bootstrap token. A provider that cannot adopt has that
  // machine deleted first: at most one machine per node.
  if (job.attempts > 1 && !provider.adoptsRetriedCreate) {
    for (const m of await provider.listMachines(nodeLabels(node.id))) {
      await provider.deleteMachine(m.providerInstanceId);
    }
  }

  const [tok] = await asOrchestrator(
    ctx.sql,
    (tx) => tx`select public.issue_bootstrap_token(${node.id}) as token, public.sam_installation_id() as installation`,
  );
  const created = await provider.createMachine({
    nodeId: node.id,
    name: machineName(node.id),
    vmSize: node.vm_size,
    labels: machineLabels(tok!.installation as string, node.id),
    userData: { controlPlaneUrl: ctx.controlPlaneUrl, bootstrapToken: tok!.token as string },
  });

  try {
    await asOrchestrator(
      ctx.sql,
      (tx) =>
        tx`select public.node_provisioned(${node.id}, ${created.providerInstanceId}, ${created.ipAddress ?? null},
                                          ${job.id}, ${job.attempts}) as r`,
    );
  } catch (e) {
    // Nobody will know about this machine: it goes now rather than waiting for the orphan sweep.
    // (Refused when the node is going away, runs on another machine, or this attempt is stale.)
    await provider.deleteMachine(created.providerInstanceId).catch(() => {});
    if (e instanceof HttpError && e.code === 'invalid_state') {
      return { skipped: `the machine was not recorded (${e.message})`, deleted: created.providerInstanceId };
    }
    throw e;
  }
  return {
    providerInstanceId: created.providerInstanceId,
    ...(created.ipAddress ? { ipAddress: created.ipAddress } : {}),
  };
}

async function destroyNode(ctx: JobContext, job: Job): Promise<JobResult> {
  const node = job.node_id ? await readNode(ctx, job.node_id) : null;
  const payload = job.payload ?? {};
  const providerName = node?.provider ?? (typeof payload.provider === 'string' ? payload.provider : 'local');
  const scope = {
    provider: providerName,
    ownerId: node?.owner_id ?? job.owner_id,
    projectId: job.project_id,
    location: node?.location ?? (typeof payload.location === 'string' ? payload.location : null),
  };
  // The row's instance id is the fresh one (node_provisioned may have run after destroy_node).
  const recorded =
    node?.provider_instance_id ?? (typeof payload.providerInstanceId === 'string' ? payload.providerInstanceId : null);
  const deleted: string[] = [];
  const result: JobResult = { deleted };
  if (job.node_id) {
    // The node's machines are those the provider lists under its labels, which the orchestrator set
    // when it created them: those created but never recorded too. A recorded id that is not among
    // them is not deleted — the labels are the proof a machine is this node's, the id alone is not.
    const provider = await providerFor(ctx, scope);
    const machines = await provider.listMachines(nodeLabels(job.node_id));
    for (const m of machines) {
      await provider.deleteMachine(m.providerInstanceId);
      deleted.push(m.providerInstanceId);
    }
    if (recorded && !machines.some((m) => m.providerInstanceId === recorded)) result.notListed = [recorded];
  } else if (recorded) {
    // The node row is gone: the id its destroy_node recorded goes if the machine is this installation's.
    const provider = await providerFor(ctx, scope);
    const [row] = await asOrchestrator(ctx.sql, (tx) => tx`select public.sam_installation_id() as id`);
    const ours = await provider.listMachines(installationLabels(row!.id as string));
    if (ours.some((m) => m.providerInstanceId === recorded)) {
      await provider.deleteMachine(recorded);
      deleted.push(recorded);
    } else {
      result.notListed = [recorded];
    }
  }
  if (node?.status === 'destroying') {
    await asOrchestrator(ctx.sql, (tx) => tx`select public.mark_node_destroyed(${node.id}) as r`);
  }
  return result;
}

/** The owner's own model key for titles (the project's override first): Anthropic, else OpenAI. */
async function ownerTitleModel(ctx: JobContext, config: TitleConfig, owner: string, project: string | null) {
  if (!ctx.credentialKey) return null;
  const vendors: [TitleApi, string][] = [
    ['anthropic', 'anthropic'],
    ['openai', 'openai'],
  ];
  for (const [api, provider] of vendors) {
    try {
      const cred = await resolveCredential(ctx.sql, ctx.credentialKey, owner, project, 'agent-api-key', provider);
      if (cred) {
        const model: TitleModel = {
          api,
          baseUrl: (cred.baseUrl ?? defaultBaseUrl(api)).replace(/\/+$/, ''),
          model: config.userModels[api],
          apiKey: cred.secret,
        };
        return model;
      }
    } catch (e) {
      if (!(e instanceof HttpError)) throw e; // an unreadable credential: try the next vendor
    }
  }
  return null;
}

async function generateTitle(ctx: JobContext, job: Job): Promise<JobResult> {
  const [task] = job.task_id
    ? await asOrchestrator(
        ctx.sql,
        (tx) => tx`select id, description, owner_id, project_id from public.tasks where id = ${job.task_id}`,
      )
    : [];
  if (!task) return { skipped: 'the task no longer exists' };
  const config = ctx.titles ?? titleConfigFrom(() => undefined);
  const message = typeof job.payload.message === 'string' ? job.payload.message : String(task.description);
  const model =
    config.platform ?? (await ownerTitleModel(ctx, config, task.owner_id as string, task.project_id as string));
  const result = await titleFor(message, model, config, { clock: ctx.clock });
  const [row] = await asOrchestrator(
    ctx.sql,
    (tx) => tx`select public.set_generated_title(${task.id as string}, ${result.title}) as applied`,
  );
  return {
    title: result.title,
    source: result.source,
    attempts: result.attempts,
    applied: row!.applied as boolean,
    ...(result.reason ? { reason: result.reason } : {}),
  };
}

export const HANDLERS: Record<JobKind, (ctx: JobContext, job: Job) => Promise<JobResult>> = {
  provision_node: provisionNode,
  destroy_node: destroyNode,
  open_pr: openPr,
  generate_title: generateTitle,
  notify: async () => ({ skipped: 'the notification is in the app; no other channel is configured' }),
};
