/**
 * Cards: chat messages that ask the user something and wait for the answer. Two kinds, each a
 * `system` message whose metadata carries `kind`:
 *
 * - `permission_request` (message id `permission:<id>`): an agent whose profile's permission mode is
 *   `ask` wants to use a tool. Answered with `answer_permission_request` (allow once, always,
 *   reject); the outcome follows as `permission_outcome` (`permission:<id>:outcome`). An "always"
 *   the owner takes back with `revoke_permission_always` is said by `permission_revoked`
 *   (`permission:<id>:revoked`), which then is the card's outcome.
 * - `budget_reached` (`budget:<task>:<n>`): the task paused at its budget. Answered with
 *   `continue_task_budget` (new limits) or `stop_task_budget`; the outcome follows as
 *   `budget_outcome` (`budget:<task>:<n>:outcome`).
 *
 * Also the vm-agent's side: the bodies of `/vm-agent/sessions/:id/permission-requests`,
 * `/budget` and `/turns`, and the payloads of the `permission_answer` and `resume_agent` commands.
 *
 * Pure TypeScript on purpose: Deno (edge function), Node (vm-agent, tests) and the web import this file.
 */
import { z } from 'zod';

export const CARD_KINDS = ['permission_request', 'budget_reached'] as const;
export const CARD_OUTCOME_KINDS = ['permission_outcome', 'permission_revoked', 'budget_outcome'] as const;

/** What the user may answer to a permission request. */
export const PERMISSION_DECISIONS = ['allow_once', 'allow_always', 'reject'] as const;
export const PermissionDecision = z.enum(PERMISSION_DECISIONS);
export type PermissionDecision = z.infer<typeof PermissionDecision>;

/** How a request ended without an answer. */
export const PERMISSION_CLOSINGS = ['timed_out', 'cancelled'] as const;
export const PermissionClosing = z.enum(PERMISSION_CLOSINGS);
export type PermissionClosing = z.infer<typeof PermissionClosing>;

/** `POST /vm-agent/sessions/:id/permission-requests` (workspace token). */
export const PermissionRequestBody = z
  .object({
    toolCallId: z.string().min(1).max(200).optional(),
    title: z.string().min(1).max(500),
    toolKind: z.string().max(32).optional(),
    /** What the tool call would touch or run, shortened and scrubbed of secrets by the machine. */
    detail: z.string().max(2000).optional(),
  })
  .strict();
export type PermissionRequestBody = z.infer<typeof PermissionRequestBody>;

/**
 * The request put to the user; or, when the owner already allowed this kind of request "always"
 * for the task (or a task it retries), `decision: 'allow_always'`: allowed at once, no card.
 */
export const PermissionRequestResponse = z
  .object({
    requestId: z.uuid(),
    expiresAt: z.iso.datetime({ offset: true }),
    decision: z.literal('allow_always').optional(),
  })
  .strict();
export type PermissionRequestResponse = z.infer<typeof PermissionRequestResponse>;

/** `POST /vm-agent/sessions/:id/permission-requests/:requestId/close`. */
export const ClosePermissionBody = z.object({ outcome: PermissionClosing }).strict();
export type ClosePermissionBody = z.infer<typeof ClosePermissionBody>;

/** The `permission_answer` command's payload. */
export const PermissionAnswerPayload = z.object({
  agentSessionId: z.uuid(),
  requestId: z.uuid(),
  decision: z.enum([...PERMISSION_DECISIONS, ...PERMISSION_CLOSINGS]),
});
export type PermissionAnswerPayload = z.infer<typeof PermissionAnswerPayload>;

const Limit = z.number().int().min(0).nullable();

/** Limits of a budget (null: none); wall time in milliseconds. */
export const BudgetLimits = z.object({ turns: Limit, wallMs: Limit, tokens: Limit });
export type BudgetLimits = z.infer<typeof BudgetLimits>;

/** A task's budget: `GET /vm-agent/sessions/:id/budget`, `POST …/turns`, and the budget cards' metadata. */
export const BudgetView = z.object({
  taskId: z.uuid().nullable(),
  state: z.enum(['running', 'paused', 'stopped']),
  paused: z.boolean(),
  reason: z.string().nullable(),
  pause: z.number().int().min(0),
  limits: BudgetLimits,
  used: z.object({ turns: z.number().int().min(0), wallMs: z.number().int().min(0), tokens: z.number().int().min(0) }),
  /** Agent time left; null without a time limit. */
  wallMsLeft: z.number().int().min(0).nullable(),
});
export type BudgetView = z.infer<typeof BudgetView>;

/** `POST /vm-agent/sessions/:id/turns`: one finished turn (`seq` counts once per agent session). */
export const TurnReport = z
  .object({
    seq: z.number().int().min(1),
    wallMs: z.number().int().min(0),
    /** Tokens the agent reported for the turn (ACP prompt response `usage.totalTokens`), if any. */
    tokens: z.number().int().min(0).optional(),
    stopReason: z.string().max(64).optional(),
  })
  .strict();
export type TurnReport = z.infer<typeof TurnReport>;

/** The `permission_request` card's metadata. */
export const PermissionCard = z.object({
  kind: z.literal('permission_request'),
  permissionRequestId: z.uuid(),
  title: z.string(),
  toolKind: z.string().nullable().optional(),
  detail: z.string().optional(),
  expiresAt: z.string(),
});
export type PermissionCard = z.infer<typeof PermissionCard>;

/**
 * A permission card's outcome line: how the request ended (`permission_outcome`: `allowed_once`,
 * `allowed_always`, `rejected`, `timed_out`, `cancelled`), or its "always" revoked (`permission_revoked`).
 */
export const PermissionOutcome = z.object({
  kind: z.enum(['permission_outcome', 'permission_revoked']),
  permissionRequestId: z.uuid(),
  outcome: z.string(),
});
export type PermissionOutcome = z.infer<typeof PermissionOutcome>;

/** The `budget_reached` card's metadata. */
export const BudgetCard = BudgetView.extend({ kind: z.literal('budget_reached') });
export type BudgetCard = z.infer<typeof BudgetCard>;
