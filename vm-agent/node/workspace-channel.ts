/**
 * A workspace's line to the control plane, with its own workspace token: the transitions it
 * reports (retried through outages until `abort` fires) and its durable outbox of message records,
 * delivered as batches to `/sessions/:id/messages`.
 */
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import type { CompleteWorkspaceRequest } from '../../functions/_shared/common/contracts/vm-agent.ts';
import type { BackoffOptions } from '../outbox/delivery-errors.ts';
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
};

export class WorkspaceChannel {
  /** Ends every retry (and a drain) when the machine stops and its grace is over. */
  readonly abort = new AbortController();
  agentSessionId: string | null = null;
  private outbox: Outbox | null = null;

  constructor(private readonly options: WorkspaceChannelOptions) {}

  async open(): Promise<void> {
    const { client, workspaceToken } = this.options;
    this.outbox = await Outbox.open({
      dir: this.options.outboxDir,
      flushDelayMs: this.options.flushDelayMs ?? 300,
      backoff: this.options.backoff,
      send: (batch, { signal }) => client.sendMessages(workspaceToken, batch.messages[0]!.sessionId, batch, { signal }),
      log: this.options.log,
    });
    this.outbox.start();
  }

  /** A control-plane call with the workspace token, retried through outages. */
  call<T>(
    what: string,
    fn: (client: ControlPlaneClient, token: string, signal: AbortSignal | undefined) => Promise<T>,
    deadlineMs?: number,
  ): Promise<T> {
    const { client, workspaceToken } = this.options;
    return retrying(what, (signal) => fn(client, workspaceToken, signal), {
      signal: this.abort.signal,
      backoff: this.options.backoff,
      deadlineMs,
      log: this.options.log,
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

  status(status: 'ready' | 'prompting' | 'stopped') {
    const id = this.agentSessionId!;
    return this.call(`session ${status}`, (c, t, signal) => c.sessionStatus(t, id, { status }, { signal }));
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
