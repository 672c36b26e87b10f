/**
 * A workspace's line to the control plane, with its own workspace token: the transitions it
 * reports (retried through outages until `abort` fires) and its durable outbox of message records,
 * delivered as batches to `/sessions/:id/messages`. The token is replaced whenever the node's
 * heartbeat brings a fresh one; a call or batch refused with 401 is retried (with the token current
 * then), asking for a fresh token through `onCredentialRefused` — never given up as invalid.
 */
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import type { AgentUsageReport, CompleteWorkspaceRequest } from '../../functions/_shared/common/contracts/vm-agent.ts';
import type {
  PermissionClosing,
  PermissionRequestBody,
  TurnReport,
} from '../../functions/_shared/common/contracts/cards.ts';
import { isCredentialRefusal, type BackoffOptions } from '../outbox/delivery-errors.ts';
import { Outbox } from '../outbox/outbox.ts';
import type { ControlPlaneClient } from './control-plane.ts';
import { retrying } from './retry.ts';

export type WorkspaceChannelOptions = {
  client: ControlPlaneClient;
  workspaceToken: string;
  outboxDir: string;
  log: (line: string) => void;
  backoff?: BackoffOptions;
  flushDelayMs?: number;
  onCredentialRefused?: () => void;
};

export class WorkspaceChannel {
  /** Ends every retry (and a drain) when the machine stops and its grace is over. */
  readonly abort = new AbortController();
  agentSessionId: string | null = null;
  private outbox: Outbox | null = null;
  private token: string;

  constructor(private readonly options: WorkspaceChannelOptions) {
    this.token = options.workspaceToken;
  }

  setToken(token: string): void {
    this.token = token;
  }

  async open(): Promise<void> {
    const { client } = this.options;
    this.outbox = await Outbox.open({
      dir: this.options.outboxDir,
      flushDelayMs: this.options.flushDelayMs ?? 300,
      backoff: this.options.backoff,
      send: (batch, { signal }) =>
        client
          .sendMessages(this.token, batch.messages[0]!.sessionId, batch, { signal })
          .catch((error: unknown) => this.refused(error)),
      log: this.options.log,
    });
    this.outbox.start();
  }

  /** Rethrows `error`, asking for a fresh token first when it is a 401. */
  private refused(error: unknown): never {
    if (isCredentialRefusal(error)) this.options.onCredentialRefused?.();
    throw error;
  }

  /** A control-plane call with the workspace token, retried through outages. */
  call<T>(
    what: string,
    fn: (client: ControlPlaneClient, token: string, signal: AbortSignal | undefined) => Promise<T>,
    deadlineMs?: number,
  ): Promise<T> {
    const { client } = this.options;
    return retrying(what, (signal) => fn(client, this.token, signal).catch((e: unknown) => this.refused(e)), {
      signal: this.abort.signal,
      backoff: this.options.backoff,
      deadlineMs,
      log: this.options.log,
      retryCredentialRefusal: true,
    });
  }

  ready() {
    return this.call('workspace ready', (c, t, signal) => c.workspaceReady(t, { signal }));
  }

  async startSession(agentType: string) {
    const session = await this.call('start session', (c, t, signal) => c.startSession(t, { agentType }, { signal }));
    this.agentSessionId = session.agentSessionId;
    return session;
  }

  status(status: 'ready' | 'prompting' | 'stopped' | 'recovering' | 'recovered', reason?: string) {
    const id = this.agentSessionId!;
    const body = reason === undefined ? { status } : { status, error: reason.slice(0, 4000) };
    return this.call(`session ${status}`, (c, t, signal) => c.sessionStatus(t, id, body, { signal }));
  }

  /** The session's running token totals (retried within `deadlineMs`; usage is not worth a stuck task). */
  usage(report: AgentUsageReport, deadlineMs = 30_000) {
    const id = this.agentSessionId!;
    return this.call('session usage', (c, t, signal) => c.sessionUsage(t, id, report, { signal }), deadlineMs);
  }

  sessionFailed(error: string, deadlineMs?: number) {
    const id = this.agentSessionId!;
    return this.call(
      'session failed',
      (c, t, signal) => c.sessionStatus(t, id, { status: 'failed', error }, { signal }),
      deadlineMs,
    );
  }

  complete(body: CompleteWorkspaceRequest) {
    return this.call('workspace complete', (c, t, signal) => c.workspaceComplete(t, body, { signal }));
  }

  stopped() {
    return this.call('workspace stopped', (c, t, signal) => c.workspaceStopped(t, { signal }));
  }

  failed(error: string, deadlineMs?: number) {
    return this.call('workspace failed', (c, t, signal) => c.workspaceFailed(t, error, { signal }), deadlineMs);
  }

  /** Asks the user (a permission card); retried for up to `deadlineMs`. */
  requestPermission(body: PermissionRequestBody, deadlineMs = 30_000) {
    const id = this.agentSessionId!;
    return this.call('permission request', (c, t, signal) => c.requestPermission(t, id, body, { signal }), deadlineMs);
  }

  closePermission(requestId: string, outcome: PermissionClosing) {
    const id = this.agentSessionId!;
    return this.call(
      'close permission request',
      (c, t, signal) => c.closePermission(t, id, requestId, outcome, { signal }),
      60_000,
    );
  }

  budget(deadlineMs = 60_000) {
    const id = this.agentSessionId!;
    return this.call('budget', (c, t, signal) => c.budget(t, id, { signal }), deadlineMs);
  }

  recordTurn(turn: TurnReport, deadlineMs = 60_000) {
    const id = this.agentSessionId!;
    return this.call('record turn', (c, t, signal) => c.recordTurn(t, id, turn, { signal }), deadlineMs);
  }

  /** Durably queues a record for delivery. */
  append(record: MessageRecord): Promise<void> {
    if (!this.outbox) return Promise.reject(new Error('the outbox is closed'));
    return this.outbox.append(record);
  }

  /** A system message of SAM's own in the agent session's chat (`messageId` stable per workspace). */
  system(messageId: string, event: string, content: string): Promise<void> {
    return this.append({
      messageId,
      sessionId: this.agentSessionId!,
      role: 'system',
      content,
      metadata: { event },
      producedAt: new Date().toISOString(),
    });
  }

  /** Until the outbox delivered everything (retrying through outages), `abort` fired or `maxMs` passed. */
  async drain(maxMs?: number): Promise<void> {
    if (!this.outbox) return;
    const signal =
      maxMs === undefined ? this.abort.signal : AbortSignal.any([this.abort.signal, AbortSignal.timeout(maxMs)]);
    const ended = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([this.outbox.drained(), ended]);
  }

  /** Closes the outbox; returns how many records stay undelivered on disk. */
  async close(): Promise<number> {
    const outbox = this.outbox;
    this.outbox = null;
    if (!outbox) return 0;
    await outbox.close();
    return outbox.size;
  }
}
