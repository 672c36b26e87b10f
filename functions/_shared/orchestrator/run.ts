/**
 * One orchestrator run: claim due jobs (leased, `for update skip locked`, so concurrent runs never
 * share one) and run them with bounded concurrency until none is due, the run's job cap, or its
 * time budget. Every job ends its attempt with complete_orchestrator_job or
 * fail_orchestrator_job (backoff, dead at max_attempts); a run that dies mid-job leaves the lease
 * to expire and sweep_orchestrator_jobs counts the attempt as failed.
 *
 * Fencing: each claim is a new attempt (`Job.attempts`), and both calls name it. A worker whose
 * lease ran out is no longer the current attempt: Postgres refuses its outcome (`accepted: false`)
 * and the job stays with whoever holds it now; the run counts it as `superseded`.
 */
import type { RunResponse } from '../common/contracts/orchestrator.ts';
import { isExpectedFailure, jobFailure } from './job-failure.ts';
import { HANDLERS, type Job, type JobContext, type JobKind } from './jobs.ts';
import { asOrchestrator } from './system.ts';

export interface RunOptions {
  /** Jobs run at once (default 4). */
  concurrency?: number;
  /** Jobs claimed per run at most (default 100). */
  maxJobs?: number;
  /** No new job is claimed after this long (default 25 s; pg_net waits 60 s for the answer). */
  budgetMs?: number;
  /** Only these kinds (default all). */
  kinds?: JobKind[];
}

export async function runDueJobs(
  ctx: JobContext,
  options: RunOptions = {},
): Promise<Pick<RunResponse, 'ran' | 'succeeded' | 'failed' | 'superseded'>> {
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const maxJobs = options.maxJobs ?? 100;
  const deadline = Date.now() + (options.budgetMs ?? 25_000);
  const summary = { ran: 0, succeeded: 0, failed: 0, superseded: 0 };
  let claimed = 0;

  const claim = async (): Promise<Job | null> => {
    const rows = await asOrchestrator(
      ctx.sql,
      (tx) =>
        tx`select id, kind, owner_id, project_id, task_id, node_id, payload, attempts, max_attempts
             from public.claim_orchestrator_jobs(1, ${options.kinds ?? null})`,
    );
    return (rows[0] as unknown as Job | undefined) ?? null;
  };

  const worker = async () => {
    while (Date.now() < deadline && claimed < maxJobs) {
      claimed++;
      const job = await claim();
      if (!job) return;
      summary.ran++;
      summary[await runJob(ctx, job)]++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const { superseded, ...counts } = summary;
  return superseded ? { ...counts, superseded } : counts;
}

/** How an attempt ended: `superseded` when it was no longer the job's current attempt. */
export type JobOutcome = 'succeeded' | 'failed' | 'superseded';

/** What complete_orchestrator_job / fail_orchestrator_job answer. */
interface Fenced {
  accepted: boolean;
  status: string;
  attempt: number;
  reason?: string;
}

/** Runs one claimed job and ends its attempt (`job.attempts`, the claim's attempt number). */
export async function runJob(ctx: JobContext, job: Job): Promise<JobOutcome> {
  let result: Record<string, unknown>;
  try {
    const handler = HANDLERS[job.kind as JobKind];
    if (!handler) throw new Error(`no handler for job kind ${job.kind}`);
    result = await handler(ctx, job);
  } catch (e) {
    const failure = jobFailure(e);
    if (!isExpectedFailure(e)) {
      // Unexpected: say which job and what kind of error, never the payload.
      console.error(`orchestrator job ${job.id} (${job.kind}) failed:`, e instanceof Error ? e.message : e);
    }
    const [row] = await asOrchestrator(
      ctx.sql,
      (tx) => tx`select public.fail_orchestrator_job(${job.id}, ${job.attempts}, ${failure.message},
                                              ${failure.permanent}, ${failure.retryAfterMs ?? null}) as r`,
    );
    return fenced(job, row!.r as Fenced) ? 'failed' : 'superseded';
  }
  const [row] = await asOrchestrator(
    ctx.sql,
    (tx) => tx`select public.complete_orchestrator_job(${job.id}, ${job.attempts}, ${tx.json(result as never)}) as r`,
  );
  return fenced(job, row!.r as Fenced) ? 'succeeded' : 'superseded';
}

/** True when the attempt's outcome was recorded; a refusal is said (job and attempts only). */
function fenced(job: Job, answer: Fenced): boolean {
  if (!answer.accepted) {
    console.warn(
      `orchestrator job ${job.id} (${job.kind}): outcome of attempt ${job.attempts} refused: ${answer.reason}`,
    );
  }
  return answer.accepted;
}
