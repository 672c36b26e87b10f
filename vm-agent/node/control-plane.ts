/**
 * The HTTP client of the `vm-agent` edge function (functions/vm-agent/app.ts): every call the
 * machine makes, with bodies and answers checked against the shared zod contracts. Tokens travel
 * only in the Authorization header and never appear in errors or logs. A non-2xx answer is a
 * {@link ControlPlaneError} (a `SendError` with the status, the server's error code and any
 * Retry-After), a network failure or timeout a `SendError` without status (transient).
 */
import { z } from 'zod';
import { MessageBatchResult, type MessageBatch } from '../../functions/_shared/common/contracts/messages.ts';
import {
  AckCommandResponse,
  CompleteWorkspaceResponse,
  ErrorBody,
  GitTokenResponse,
  HeartbeatResponse,
  NodeCommand,
  isVmAgentErrorCode,
  RegisterNodeResponse,
  RenewNodeTokenResponse,
  SessionStatusResponse,
  StartSessionResponse,
  TransitionResponse,
  type AckCommandRequest,
  type CompleteWorkspaceRequest,
  type GitTokenRequest,
  type HeartbeatRequest,
  type RegisterNodeRequest,
  type SessionStatusRequest,
  type StartSessionRequest,
  type VmAgentErrorCode,
} from '../../functions/_shared/common/contracts/vm-agent.ts';
import { SendError } from '../outbox/delivery-errors.ts';
import {
  BudgetView,
  PermissionRequestResponse,
  type PermissionClosing,
  type PermissionRequestBody,
  type TurnReport,
} from '../../functions/_shared/common/contracts/cards.ts';

export class ControlPlaneError extends SendError {
  constructor(
    message: string,
    status: number | undefined,
    /**
     * The server's `error.code` when it sent one of the contract's codes (`token_revoked`,
     * `invalid_params`, …); `bad_response` when the answer did not match the contract.
     */
    readonly code: VmAgentErrorCode | 'bad_response' | undefined,
    retryAfterMs?: number,
    /** The code exactly as the answer carried it, also one outside the contract (a gateway's). */
    readonly serverCode: string | undefined = code,
    /** The server's `error.message` as it said it (for the few that are meant for the user). */
    readonly serverMessage?: string,
  ) {
    super(message, status, retryAfterMs);
    this.name = 'ControlPlaneError';
  }
}

/** A polled command: valid for this agent, or one it cannot take (unknown kind, bad payload). */
export type PolledCommand =
  { ok: true; command: NodeCommand } | { ok: false; id: string; kind: string; reason: string };

export type CallOptions = { signal?: AbortSignal };

export type ControlPlaneOptions = {
  /** e.g. `http://127.0.0.1:54321/functions/v1/vm-agent` */
  baseUrl: string;
  fetch?: typeof fetch;
  /** Per-request timeout (a long-poll adds its wait); default 15 s. */
  timeoutMs?: number;
};

/** Retry-After as seconds or an HTTP date, in ms. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

const LenientPoll = z.object({ commands: z.array(z.unknown()) });

export class ControlPlaneClient {
  private readonly base: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;

  constructor(options: ControlPlaneOptions) {
    this.base = options.baseUrl.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  register(body: RegisterNodeRequest, options: CallOptions = {}) {
    return this.call('POST', '/nodes/register', undefined, body, RegisterNodeResponse, options);
  }

  heartbeat(nodeToken: string, body: HeartbeatRequest, options: CallOptions = {}) {
    return this.call('POST', '/nodes/heartbeat', nodeToken, body, HeartbeatResponse, options);
  }

  /** Renews a node token that expired during an outage (refused for good when it was revoked). */
  renewNodeToken(nodeToken: string, options: CallOptions = {}) {
    return this.call('POST', '/nodes/token', nodeToken, {}, RenewNodeTokenResponse, options);
  }

  /** The long-poll; commands this agent cannot parse come back as `ok: false` to be refused. */
  async pollCommands(nodeToken: string, waitSeconds: number, options: CallOptions = {}): Promise<PolledCommand[]> {
    const { commands } = await this.call(
      'GET',
      `/nodes/commands?wait=${waitSeconds}`,
      nodeToken,
      undefined,
      LenientPoll,
      {
        ...options,
        extraTimeoutMs: waitSeconds * 1000,
      },
    );
    return commands.map((raw): PolledCommand => {
      const parsed = NodeCommand.safeParse(raw);
      if (parsed.success) return { ok: true, command: parsed.data };
      const r = (raw ?? {}) as { id?: unknown; kind?: unknown };
      return {
        ok: false,
        id: typeof r.id === 'string' ? r.id : '',
        kind: typeof r.kind === 'string' ? r.kind : 'unknown',
        reason: z.prettifyError(parsed.error).slice(0, 1000),
      };
    });
  }

  ack(nodeToken: string, commandId: string, body: AckCommandRequest, options: CallOptions = {}) {
    return this.call(
      'POST',
      `/nodes/commands/${encodeURIComponent(commandId)}/ack`,
      nodeToken,
      body,
      AckCommandResponse,
      options,
    );
  }

  workspaceReady(workspaceToken: string, options: CallOptions = {}) {
    return this.call('POST', '/workspaces/ready', workspaceToken, {}, TransitionResponse, options);
  }

  workspaceFailed(workspaceToken: string, error: string, options: CallOptions = {}) {
    const text = error.trim().slice(0, 4000) || 'unknown error';
    return this.call('POST', '/workspaces/failed', workspaceToken, { error: text }, TransitionResponse, options);
  }

  workspaceStopped(workspaceToken: string, options: CallOptions = {}) {
    return this.call('POST', '/workspaces/stopped', workspaceToken, {}, TransitionResponse, options);
  }

  workspaceComplete(workspaceToken: string, body: CompleteWorkspaceRequest, options: CallOptions = {}) {
    return this.call('POST', '/workspaces/complete', workspaceToken, body, CompleteWorkspaceResponse, options);
  }

  /** A GitHub token for the task's repository (what git asked for); never logged. */
  gitToken(workspaceToken: string, body: GitTokenRequest, options: CallOptions = {}) {
    return this.call('POST', '/workspaces/git-token', workspaceToken, body, GitTokenResponse, options);
  }

  startSession(workspaceToken: string, body: StartSessionRequest, options: CallOptions = {}) {
    return this.call('POST', '/sessions', workspaceToken, body, StartSessionResponse, options);
  }

  sessionStatus(workspaceToken: string, agentSessionId: string, body: SessionStatusRequest, options: CallOptions = {}) {
    const path = `/sessions/${encodeURIComponent(agentSessionId)}/status`;
    return this.call('POST', path, workspaceToken, body, SessionStatusResponse, options);
  }

  sendMessages(workspaceToken: string, agentSessionId: string, batch: MessageBatch, options: CallOptions = {}) {
    const path = `/sessions/${encodeURIComponent(agentSessionId)}/messages`;
    return this.call('POST', path, workspaceToken, batch, MessageBatchResult, options);
  }

  /** An agent's permission request: a card in the chat; the answer comes as a `permission_answer` command. */
  requestPermission(
    workspaceToken: string,
    agentSessionId: string,
    body: PermissionRequestBody,
    options: CallOptions = {},
  ) {
    const path = `/sessions/${encodeURIComponent(agentSessionId)}/permission-requests`;
    return this.call('POST', path, workspaceToken, body, PermissionRequestResponse, options);
  }

  closePermission(
    workspaceToken: string,
    agentSessionId: string,
    requestId: string,
    outcome: PermissionClosing,
    options: CallOptions = {},
  ) {
    const path = `/sessions/${encodeURIComponent(agentSessionId)}/permission-requests/${encodeURIComponent(requestId)}/close`;
    return this.call('POST', path, workspaceToken, { outcome }, z.object({ changed: z.boolean() }), options);
  }

  /** The task's budget before a turn (a budget at its limit pauses on this call). */
  budget(workspaceToken: string, agentSessionId: string, options: CallOptions = {}) {
    const path = `/sessions/${encodeURIComponent(agentSessionId)}/budget`;
    return this.call('GET', path, workspaceToken, undefined, BudgetView, options);
  }

  /** A finished turn's wall time and tokens, counted once per `seq`. */
  recordTurn(workspaceToken: string, agentSessionId: string, body: TurnReport, options: CallOptions = {}) {
    const path = `/sessions/${encodeURIComponent(agentSessionId)}/turns`;
    return this.call('POST', path, workspaceToken, body, BudgetView, options);
  }

  private async call<T extends z.ZodType>(
    method: 'GET' | 'POST',
    path: string,
    token: string | undefined,
    body: unknown,
    schema: T,
    options: CallOptions & { extraTimeoutMs?: number },
  ): Promise<z.infer<T>> {
    const what = `${method} ${path.replace(/\?.*$/, '')}`;
    const timeout = AbortSignal.timeout(this.timeoutMs + (options.extraTimeoutMs ?? 0));
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    let res: Response;
    let text: string;
    try {
      res = await this.fetch(`${this.base}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
      text = await res.text();
    } catch (error) {
      const reason = timeout.aborted ? 'timed out' : error instanceof Error ? error.message : String(error);
      throw new ControlPlaneError(`${what}: ${reason}`, undefined, undefined);
    }
    let json: unknown = undefined;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      // not JSON: a proxy's error page, for instance
    }
    if (!res.ok) {
      const parsed = ErrorBody.safeParse(json);
      const loose = (json ?? {}) as { code?: unknown; message?: unknown };
      const raw = parsed.success ? parsed.data.error.code : loose.code;
      const code = isVmAgentErrorCode(raw) ? raw : undefined;
      const message = parsed.success
        ? parsed.data.error.message
        : typeof loose.message === 'string'
          ? loose.message
          : text.slice(0, 200) || res.statusText;
      throw new ControlPlaneError(
        `${what}: ${res.status}${typeof raw === 'string' ? ` ${raw.slice(0, 64)}` : ''}: ${message}`,
        res.status,
        code,
        retryAfterMs(res.headers.get('retry-after')),
        typeof raw === 'string' ? raw.slice(0, 64) : undefined,
        message.slice(0, 1000),
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ControlPlaneError(
        `${what}: unexpected answer: ${z.prettifyError(parsed.error)}`,
        undefined,
        'bad_response',
      );
    }
    return parsed.data;
  }
}

/** Whether `error` says the token is no longer accepted (revoked, expired, or not valid). */
export function isUnauthorized(error: unknown): error is ControlPlaneError {
  return error instanceof ControlPlaneError && error.status === 401;
}
