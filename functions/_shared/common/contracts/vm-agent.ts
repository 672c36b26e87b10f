/**
 * The HTTP contract between the Node vm-agent on every machine and the `vm-agent` edge function:
 * every request and response body, as zod schemas both sides import. Message batches are in
 * `messages.ts`. Errors are always `{ error: { code, message, details? } }` ({@link ErrorBody}).
 *
 * Pure TypeScript on purpose: Deno (edge function) and Node (vm-agent, tests) both import this file.
 */
import { z } from 'zod';

export { MessageBatch, MessageBatchResult } from './messages.ts';

/** Longest long-poll the function holds a request open for (seconds). */
export const MAX_POLL_WAIT_SECONDS = 25;
/** How often a waiting long-poll looks for new commands (ms). */
export const POLL_INTERVAL_MS = 500;

const Uuid = z.uuid();
const Timestamp = z.iso.datetime({ offset: true });
const ShortText = (max: number) => z.string().min(1).max(max);

/**
 * Every `error.code` the vm-agent function answers with. 401s: `missing_token`, `invalid_token`
 * (wrong kind, bad signature, unknown bootstrap token), `token_expired` (the JWT's `exp` passed;
 * a node token may then still be renewed, see {@link RenewNodeTokenResponse}), `token_revoked`
 * (the token's row no longer counts). `rate_limited` is a 429 with Retry-After.
 */
export const VM_AGENT_ERROR_CODES = [
  'invalid_params',
  'invalid_json',
  'payload_too_large',
  'not_found',
  'missing_token',
  'invalid_token',
  'token_expired',
  'token_revoked',
  'not_allowed',
  'invalid_state',
  'conflict',
  'limit_reached',
  'credential_missing',
  'rate_limited',
  'github_not_configured',
  'github_error',
  'internal',
] as const;
export type VmAgentErrorCode = (typeof VM_AGENT_ERROR_CODES)[number];
export const VmAgentErrorCode = z.enum(VM_AGENT_ERROR_CODES);

export function isVmAgentErrorCode(code: unknown): code is VmAgentErrorCode {
  return typeof code === 'string' && (VM_AGENT_ERROR_CODES as readonly string[]).includes(code);
}

/** 401 codes after which the same token will never count again. */
export const TOKEN_ERROR_CODES = ['missing_token', 'invalid_token', 'token_expired', 'token_revoked'] as const;

/** The error body; `code` stays a string on the wire so a newer server's code still parses. */
export const ErrorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

// Nodes ------------------------------------------------------------------------------------------

/** Largest registration body the function reads (bytes). */
export const MAX_REGISTER_BODY_BYTES = 4 * 1024;

/**
 * `POST /vm-agent/nodes/register` (no token: the one-time bootstrap token is the credential).
 * A machine does not say which cloud instance it is: the provider's answer when the machine was
 * created is the only source of that.
 */
export const RegisterNodeRequest = z
  .object({
    bootstrapToken: ShortText(200),
    agentVersion: ShortText(100),
    ipAddress: z.string().max(100).optional(),
    /** @deprecated Ignored (older machines still send it); the vm-agent no longer does. */
    providerInstanceId: z.string().max(200).optional(),
  })
  .strict();
export type RegisterNodeRequest = z.infer<typeof RegisterNodeRequest>;

export const RegisterNodeResponse = z
  .object({
    nodeId: Uuid,
    nodeToken: z.string(),
    expiresAt: Timestamp,
    heartbeatIntervalSeconds: z.number().int().positive(),
  })
  .strict();
export type RegisterNodeResponse = z.infer<typeof RegisterNodeResponse>;

export const NodeMetrics = z
  .object({
    cpuLoadAvg1: z.number().min(0).optional(),
    memoryPercent: z.number().min(0).max(100).optional(),
    diskPercent: z.number().min(0).max(100).optional(),
  })
  .catchall(z.number());
export type NodeMetrics = z.infer<typeof NodeMetrics>;

/** `POST /vm-agent/nodes/heartbeat` (node token). */
export const HeartbeatRequest = z
  .object({
    agentVersion: ShortText(100).optional(),
    metrics: NodeMetrics.optional(),
    /** The workspaces this machine runs: their tokens are slid and re-signed. */
    activeWorkspaces: z.array(Uuid).max(100).optional(),
  })
  .strict();
export type HeartbeatRequest = z.infer<typeof HeartbeatRequest>;

/** A workspace's token, slid by a heartbeat and signed again (the machine uses it from then on). */
export const WorkspaceTokenRefresh = z
  .object({ workspaceId: Uuid, workspaceToken: z.string(), expiresAt: Timestamp })
  .strict();
export type WorkspaceTokenRefresh = z.infer<typeof WorkspaceTokenRefresh>;

/**
 * The heartbeat slides the node token; the re-signed token comes back when its expiry moved.
 * `workspaceTokens`: fresh tokens for the listed workspaces that are still live on this node;
 * `endedWorkspaces`: the listed ones that are not (ended, or not this node's).
 */
export const HeartbeatResponse = z
  .object({
    nodeId: Uuid,
    status: z.string(),
    pendingCommands: z.number().int().min(0),
    nodeToken: z.string().optional(),
    expiresAt: Timestamp.optional(),
    workspaceTokens: z.array(WorkspaceTokenRefresh).optional(),
    endedWorkspaces: z.array(Uuid).optional(),
  })
  .strict();
export type HeartbeatResponse = z.infer<typeof HeartbeatResponse>;

/**
 * `POST /vm-agent/nodes/token` (node token, which may have expired): a node token that expired
 * during an outage is renewed while its row is unrevoked, expired for less than the
 * `node_token_renew_grace` setting and its node not being destroyed. Revoked stays revoked.
 */
export const RenewNodeTokenResponse = z.object({ nodeToken: z.string(), expiresAt: Timestamp }).strict();
export type RenewNodeTokenResponse = z.infer<typeof RenewNodeTokenResponse>;

/**
 * `GET /vm-agent/nodes/commands?wait=<0..25>` (node token). Delivery is at least once: a command
 * handed out but not acknowledged within the `node_command_lease` setting is handed out again
 * (same id), so a machine must apply each command id once and acknowledge repeats.
 */
export const PollCommandsQuery = z
  .object({ wait: z.coerce.number().int().min(0).max(MAX_POLL_WAIT_SECONDS).default(0) })
  .strict();
export type PollCommandsQuery = z.infer<typeof PollCommandsQuery>;

export const TASK_MODES = ['task', 'conversation'] as const;
export const WORKSPACE_PROFILES = ['full', 'lightweight'] as const;

/** Everything the VM needs to create a workspace, and the workspace's own token. */
export const CreateWorkspacePayload = z.object({
  workspaceId: Uuid,
  projectId: Uuid,
  taskId: Uuid,
  chatSessionId: Uuid.nullable(),
  repository: z.string(),
  repoProvider: z.string(),
  defaultBranch: z.string(),
  baseBranch: z.string(),
  /** The task branch to create and push. */
  branch: z.string(),
  workspaceProfile: z.enum(WORKSPACE_PROFILES),
  lightweight: z.boolean(),
  agentType: z.string(),
  taskMode: z.enum(TASK_MODES),
  title: z.string(),
  /** The task's first message (the prompt the agent starts with). */
  initialPrompt: z.string(),
  workspaceToken: z.string(),
  workspaceTokenExpiresAt: Timestamp,
});
export type CreateWorkspacePayload = z.infer<typeof CreateWorkspacePayload>;

const CommandBase = { id: Uuid, workspaceId: Uuid.nullable(), createdAt: Timestamp };

export const OTHER_COMMAND_KINDS = [
  'stop_workspace',
  'start_agent',
  'prompt',
  'cancel_prompt',
  'stop_agent',
  'shutdown',
  // contracts/cards.ts: an answer to an agent's permission request; a budget pause ended.
  'permission_answer',
  'resume_agent',
] as const;

export const NodeCommand = z.discriminatedUnion('kind', [
  z.object({ ...CommandBase, kind: z.literal('create_workspace'), payload: CreateWorkspacePayload }),
  z.object({ ...CommandBase, kind: z.enum(OTHER_COMMAND_KINDS), payload: z.record(z.string(), z.unknown()) }),
]);
export type NodeCommand = z.infer<typeof NodeCommand>;

export const PollCommandsResponse = z.object({ commands: z.array(NodeCommand) }).strict();
export type PollCommandsResponse = z.infer<typeof PollCommandsResponse>;

/** `POST /vm-agent/nodes/commands/:id/ack` (node token); the path names the command. */
export const AckCommandRequest = z
  .object({ ok: z.boolean(), result: z.record(z.string(), z.unknown()).optional() })
  .strict();
export type AckCommandRequest = z.infer<typeof AckCommandRequest>;

/** `acknowledged: false` when the command was already acknowledged (a repeat). */
export const AckCommandResponse = z.object({ acknowledged: z.boolean() }).strict();
export type AckCommandResponse = z.infer<typeof AckCommandResponse>;

// Workspaces -------------------------------------------------------------------------------------

/** `POST /vm-agent/workspaces/ready` and `/stopped` take `{}` (or no body). */
export const EmptyRequest = z.object({}).strict();

/** `POST /vm-agent/workspaces/failed`. */
export const WorkspaceFailedRequest = z.object({ error: ShortText(4000) }).strict();
export type WorkspaceFailedRequest = z.infer<typeof WorkspaceFailedRequest>;

/** Every transition answers whether it changed anything (`false` for a repeat). */
export const TransitionResponse = z.object({ changed: z.boolean() }).strict();
export type TransitionResponse = z.infer<typeof TransitionResponse>;

/** `POST /vm-agent/sessions` (workspace token). */
export const StartSessionRequest = z.object({ agentType: ShortText(64).optional() }).strict();
export type StartSessionRequest = z.infer<typeof StartSessionRequest>;

/**
 * The one model credential the session's agent needs (the owner's, or the project's override),
 * for the agent process's environment only: never argv, logs, files or messages.
 */
export const AgentCredential = z
  .object({
    /** The credential's vendor (`anthropic`, `openai`, `gemini`, `opencode`). */
    provider: ShortText(64),
    /** SECRET: the API key itself. */
    secretApiKey: z.string().min(1).max(8192),
    /** The user's gateway or proxy; null: the vendor's own endpoint. */
    baseUrl: z.string().max(2048).nullable(),
    /** Non-secret settings stored beside it. */
    config: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  })
  .strict();
export type AgentCredential = z.infer<typeof AgentCredential>;

/** The agent's launch settings: its type, the task's profile (model, permission mode, instructions), its credential. */
export const AgentLaunchSettings = z
  .object({
    agentType: ShortText(64),
    model: z.string().max(128).nullable(),
    permissionMode: z.string().max(32).nullable(),
    instructions: z.string().max(8000).nullable(),
    /** Null for agents that need none (the demo agent). */
    credential: AgentCredential.nullable(),
  })
  .strict();
export type AgentLaunchSettings = z.infer<typeof AgentLaunchSettings>;

export const StartSessionResponse = z
  .object({
    agentSessionId: Uuid,
    /**
     * The agent's MCP bearer token. Its JWT `exp` (= `expiresAt`) is the token's hard cap
     * (`agent_token_max`, 24 h); the database's sliding window (`agent_token_ttl`, renewed by every
     * MCP call) decides before that.
     */
    agentToken: z.string(),
    expiresAt: Timestamp,
    /** SAM's MCP server (Streamable HTTP). */
    mcpUrl: z.url(),
    /** How to launch the agent; absent from older servers (the machine's own settings apply). */
    agent: AgentLaunchSettings.optional(),
  })
  .strict();
export type StartSessionResponse = z.infer<typeof StartSessionResponse>;

/** `recovered`: a crashed agent was restarted and its session loaded again (the task awaits a follow-up). */
export const SESSION_STATUSES = ['ready', 'prompting', 'recovering', 'recovered', 'stopped', 'failed'] as const;

/** `POST /vm-agent/sessions/:id/status`. `failed` carries the error; others may carry a reason. */
export const SessionStatusRequest = z
  .object({ status: z.enum(SESSION_STATUSES), error: ShortText(4000).optional() })
  .strict()
  .superRefine((body, ctx) => {
    if (body.status === 'failed' && body.error === undefined) {
      ctx.addIssue({ code: 'custom', path: ['error'], message: 'a failed session carries its error' });
    }
  });
export type SessionStatusRequest = z.infer<typeof SessionStatusRequest>;

/** `status` is the session's state after the call (`idle` after `ready`). */
export const SessionStatusResponse = z.object({ changed: z.boolean(), status: z.string() }).strict();
export type SessionStatusResponse = z.infer<typeof SessionStatusResponse>;

const TokenCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * `POST /vm-agent/sessions/:id/usage`: the agent session's running token totals as its agent
 * reported them (ACP usage updates and prompt results, or the agent's own session log), sent after
 * each turn. Totals never go down on the server, so a repeated or late report is harmless.
 */
export const AgentUsageReport = z
  .object({
    inputTokens: TokenCount,
    outputTokens: TokenCount,
    cachedReadTokens: TokenCount,
    cachedWriteTokens: TokenCount,
    thoughtTokens: TokenCount,
    totalTokens: TokenCount,
    contextUsed: TokenCount.optional(),
    contextSize: TokenCount.optional(),
    cost: z
      .object({ amount: z.number().min(0).max(1e9), currency: z.string().regex(/^[A-Za-z]{3}$/) })
      .strict()
      .optional(),
    turns: z.number().int().min(0).max(1_000_000),
    /** Where the numbers come from: `acp`, `anthropic-api`, `chat-completions-api`, `claude-transcript`, `codex-rollout`. */
    source: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/),
  })
  .strict();
export type AgentUsageReport = z.infer<typeof AgentUsageReport>;
export const AgentUsageResponse = z.object({ changed: z.boolean() }).strict();

/** What vm-agent/git `completeWork` reports. */
export const GitPushResult = z.object({
  pushed: z.boolean(),
  commitSha: z.string().max(100).nullable(),
  branchName: z.string().max(255).nullable(),
  hasUncommittedChanges: z.boolean().optional(),
  committed: z.boolean().optional(),
  error: z.string().max(4000).nullable(),
});
export type GitPushResult = z.infer<typeof GitPushResult>;

/**
 * `POST /vm-agent/workspaces/git-token`: git's credential request as the machine's helper got it —
 * `host` (with its port, if any) and `path` (`owner/repo.git`). Only the task's own repository gets
 * a token (403 `not_allowed` otherwise); the answer is a GitHub installation token scoped to that
 * one repository (contents and pull requests: write, metadata: read), for username `x-access-token`.
 */
export const GitTokenRequest = z
  .object({
    protocol: z.enum(['https', 'http']).optional(),
    host: ShortText(255),
    path: ShortText(500),
  })
  .strict();
export type GitTokenRequest = z.infer<typeof GitTokenRequest>;

export const GitTokenResponse = z
  .object({
    token: z.string().min(1),
    expiresAt: Timestamp,
    /** The user name to send with the token (a deploy credential's); absent: `x-access-token`. */
    username: z.string().min(1).max(255).optional(),
  })
  .strict();
export type GitTokenResponse = z.infer<typeof GitTokenResponse>;

/** `POST /vm-agent/workspaces/complete`. */
export const CompleteWorkspaceRequest = z
  .object({ gitPushResult: GitPushResult, summary: z.string().max(10000).optional() })
  .strict();
export type CompleteWorkspaceRequest = z.infer<typeof CompleteWorkspaceRequest>;

export const CompleteWorkspaceResponse = z
  .object({
    taskId: Uuid,
    status: z.string(),
    executionStep: z.string().nullable(),
    branch: z.string().nullable(),
    /** Whether this call completed the task (or moved it to awaiting_followup). */
    changed: z.boolean(),
    /** A pull request was requested from the orchestrator (task mode, pushed). */
    pullRequestRequested: z.boolean(),
  })
  .strict();
export type CompleteWorkspaceResponse = z.infer<typeof CompleteWorkspaceResponse>;
