/**
 * What the database broadcasts when an agent session's token usage changes: the event `usage` on
 * the chat's private topic `session:<id>` (supabase/migrations/20261203050000_usage_broadcast.sql),
 * sent for each change of its `agent_session_usage` row. The web reads the task's usage again.
 *
 * Pure TypeScript on purpose: Deno, Node and the web import this file.
 */
import { z } from 'zod';

/** The payload of the `usage` event. */
export const UsageChanged = z.object({
  /** Null for an agent session that belongs to no task. */
  taskId: z.uuid().nullable(),
  agentSessionId: z.uuid(),
});
export type UsageChanged = z.infer<typeof UsageChanged>;
