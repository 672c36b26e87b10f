/**
 * What SAM does with a GitHub webhook event, once its signature was checked: a closed (or merged)
 * pull request moves the tasks that carry it; `installation` and `installation_repositories` keep
 * the links current. Each is one guarded, repeat-safe SQL call as the system, so a redelivery
 * changes nothing and the answer goes back to GitHub well within its 10 s.
 */
import { fromPostgresError, type Sql, type Tx } from '../db.ts';
import type { WebhookEvent } from './webhooks.ts';

/** As the system, with `sam.actor` naming the webhook in the events the SQL functions write. */
async function asWebhook<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    return (await sql.begin(async (tx) => {
      await tx.unsafe('set local role service_role');
      await tx`select set_config('sam.actor', 'github-webhook', true)`;
      return fn(tx);
    })) as T;
  } catch (e) {
    throw fromPostgresError(e);
  }
}

export async function applyWebhookEvent(sql: Sql, event: WebhookEvent): Promise<Record<string, unknown>> {
  switch (event.kind) {
    case 'pull_request_closed': {
      const [row] = await asWebhook(
        sql,
        (tx) =>
          tx`select public.github_pull_request_closed(${event.repositoryId}, ${event.number}, ${event.merged},
                                                      ${event.mergeCommitSha}) as n`,
      );
      return { pullRequest: event.number, merged: event.merged, tasksUpdated: Number(row!.n) };
    }
    case 'installation': {
      const [row] = await asWebhook(
        sql,
        (tx) => tx`select public.github_installation_event(${event.installationId}, ${event.action}) as r`,
      );
      return { installation: event.installationId, ...(row!.r as Record<string, unknown>) };
    }
    case 'installation_repositories': {
      const removed = event.removed.map((r) => r.id);
      const [row] = await asWebhook(
        sql,
        (tx) =>
          tx`select public.github_installation_repositories_event(${event.installationId},
                                                                  ${event.repositorySelection}, ${removed}::bigint[]) as r`,
      );
      return { installation: event.installationId, ...(row!.r as Record<string, unknown>) };
    }
    case 'ignored':
      return { ignored: true };
  }
}
