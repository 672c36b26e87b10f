/**
 * The `orchestrator` function's HTTP contract. Postgres calls it (pg_net, from
 * `sam_wake_orchestrator()`) with `Authorization: Bearer <SAM_ORCHESTRATOR_SECRET>`.
 *
 *   POST /orchestrator/run   RunRequest → RunResponse
 */
import { z } from 'zod';

/** Unknown keys are ignored (a scheduler may send `{ "time": … }`). */
export const RunRequest = z.object({
  /** Also delete provider machines labelled as SAM's whose node is gone (pg_cron, every 10 min). */
  sweepOrphans: z.boolean().optional(),
});
export type RunRequest = z.infer<typeof RunRequest>;

export const OrphanSweep = z.object({
  provider: z.string(),
  listed: z.number().int().min(0),
  deleted: z.array(z.string()),
  error: z.string().optional(),
});
export type OrphanSweep = z.infer<typeof OrphanSweep>;

export const RunResponse = z.object({
  /** Jobs claimed and run in this call. */
  ran: z.number().int().min(0),
  succeeded: z.number().int().min(0),
  /** Attempts that failed (the job is retried after its backoff, or dead at max_attempts). */
  failed: z.number().int().min(0),
  /** Attempts whose outcome was refused: the job's lease had run out and it was no longer theirs (present when > 0). */
  superseded: z.number().int().min(0).optional(),
  orphans: z.array(OrphanSweep).optional(),
});
export type RunResponse = z.infer<typeof RunResponse>;
