/**
 * One orchestrator run: claim due jobs (leased, `for update skip locked`, so concurrent runs never
 * share one) and run them with bounded concurrency until none is due, the run's job cap, or its
 * time budget. Every job ends its attempt with complete_orchestrator_job or
 * fail_orchestrator_job (backoff, dead at max_attempts); a run that dies mid-job leaves the lease
 * to expire and sweep_orchestrator_jobs counts the attempt as failed.
 */
import type { RunResponse } from '../common/contracts/orchestrator.ts';
import { HttpError } from '../http-error.ts';
import { ProviderError } from '../providers/provider.ts';
import { failureMessage, HANDLERS, type Job, type JobContext, type JobKind } from './jobs.ts';
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
): Promise<Pick<RunResponse, 'ran' | 'succeeded' | 'failed'>> {
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const maxJobs = options.maxJobs ?? 100;
  const deadline = Date.now() + (options.budgetMs ?? 25_000);
  const summary = { ran: 0, succeeded: 0, failed: 0 };
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
      if (await runJob(ctx, job)) summary.succeeded++;
      else summary.failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return summary;
}

/** Runs one claimed job and ends its attempt; true when it succeeded. */
export async function runJob(ctx: JobContext, job: Job): Promise<boolean> {
  let result: Record<string, unknown>;
  try {
    const handler = HANDLERS[job.kind as JobKind];
    if (!handler) throw new Error(`no handler for job kind ${job.kind}`);
    result = await handler(ctx, job);
  } catch (e) {
    const message = failureMessage(e);
    if (!(e instanceof ProviderError || e instanceof HttpError)) {
      // Unexpected: say which job and what kind of error, never the payload.
      console.error(`orchestrator job ${job.id} (${job.kind}) failed:`, e instanceof Error ? e.message : e);
    }
    await asOrchestrator(ctx.sql, (tx) => tx`select public.fail_orchestrator_job(${job.id}, ${message})`);
    return false;
  }
  await asOrchestrator(
    ctx.sql,
    (tx) => tx`select public.complete_orchestrator_job(${job.id}, ${tx.json(result as never)})`,
  );
  return true;
}
