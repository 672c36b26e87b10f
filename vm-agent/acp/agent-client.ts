/**
 * SAM's side of an ACP connection to one agent: initialize, `session/new` (cwd + SAM's MCP server
 * with the agent token) or `session/load`, prompt, cancel — with every session update turned
 * into message records ({@link MessageRecorder}, paths in them relative to the workspace) handed
 * in order to `onRecord` (the outbox). The client serves `fs/*` confined to the workspace and
 * answers permission requests by policy (their tool call's paths relative too).
 */
import * as acp from '@agentclientprotocol/sdk';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import { answerPermission, type PermissionPolicy } from './permissions.ts';
import { MessageRecorder } from './records.ts';
import { UsageMeter } from './usage.ts';
import { WorkspaceFs, WorkspacePathError } from './workspace-fs.ts';

export type SamMcpServer = {
  url: string;
  token: string;
  name?: string;
  /** A stdio bridge to pass instead of the HTTP entry (agents without HTTP MCP: agents/amp.ts). */
  stdioBridge?: acp.McpServerStdio;
};

export type AgentClientOptions = {
  /** The workspace checkout; the session's cwd and the only place `fs/*` may touch. */
  workspaceRoot: string;
  /** SAM's agent-session id (records carry it). */
  sessionId: string;
  mcp?: SamMcpServer | null;
  permissionPolicy?: PermissionPolicy;
  /**
   * Receives records in order, called synchronously one after another (an outbox append, which
   * queues synchronously); the returned promises are awaited before a turn counts as settled.
   */
  onRecord: (record: MessageRecord) => void | Promise<void>;
  /** Message-id prefix (fresh by default). */
  epoch?: string;
  /** How often coalesced chunks are flushed while a turn streams; default 250 ms. */
  flushIntervalMs?: number;
  /** Replayed history on `session/load`: skipped by default (the control plane already has it). */
  recordReplay?: boolean;
  /** Advertise `fs/*` to the agent (default true). */
  fsCapability?: boolean;
  now?: () => Date;
  log?: (line: string) => void;
};

/** The mcpServers entry SAM gives every agent: its MCP URL with the agent token as a header. */
export function samMcpServerEntry(mcp: SamMcpServer): acp.McpServer {
  return {
    type: 'http',
    name: mcp.name ?? 'sam',
    url: mcp.url,
    headers: [{ name: 'Authorization', value: `Bearer ${mcp.token}` }],
  };
}

/** Updates that become a message the chat shows (not command lists, modes or usage). */
const SHOWN_UPDATES = new Set(['agent_message_chunk', 'agent_thought_chunk', 'tool_call', 'tool_call_update', 'plan']);

export class AgentClient {
  readonly recorder: MessageRecorder;
  /** The session's token usage as the agent reports it over ACP (usage.ts). */
  readonly usage = new UsageMeter();
  private acpSessionId: string | null = null;
  private replaying = false;
  /** Updates that arrived while `session/new` was answered but before its id was known here. */
  private early: acp.SessionNotification[] | null = null;
  private chain: Promise<void> = Promise.resolve();
  private sinkError: unknown = null;
  /** Tokens the agent reported for the last turn (its prompt result's usage: usage.ts), if it did. */
  lastTurnTokens: number | null = null;
  /** When the first prompt was sent (epoch ms), until its first update was logged. */
  private firstPromptAt: number | null = null;
  private firstUpdateLogged = false;
  private constructor(
    private readonly options: AgentClientOptions,
    private readonly connection: acp.ClientConnection,
    readonly initializeResponse: acp.InitializeResponse,
    recorder: MessageRecorder,
  ) {
    this.recorder = recorder;
  }

  /** Connects over `stream` and runs `initialize`. */
  static async connect(stream: acp.Stream, options: AgentClientOptions): Promise<AgentClient> {
    const fs = new WorkspaceFs(options.workspaceRoot);
    const policy = options.permissionPolicy ?? 'approve';
    const holder: { client?: AgentClient } = {};
    const recorder = new MessageRecorder(
      { sessionId: options.sessionId, epoch: options.epoch, now: options.now, workspaceRoot: options.workspaceRoot },
      (record) => holder.client?.deliver(record),
    );
    const fsError = (error: unknown): never => {
      if (error instanceof WorkspacePathError)
        throw acp.RequestError.invalidParams({ path: error.requested }, error.message);
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw acp.RequestError.resourceNotFound();
      throw error;
    };
    const app = acp
      .client({ name: 'sam-vm-agent' })
      .onNotification(acp.methods.client.session.update, ({ params }) => holder.client?.onUpdate(params))
      // The tool call as the chat shows it (paths relative to the checkout); its id unchanged.
      .onRequest(acp.methods.client.session.requestPermission, ({ params }) =>
        answerPermission(policy, {
          ...params,
          toolCall: { ...recorder.withRelativePaths(params.toolCall), toolCallId: params.toolCall.toolCallId },
        }),
      )
      // A file that does not exist yet reads as empty: Gemini CLI reads before writing a new file
      // and fails the write on any error reply (tests/agents/gemini.test.ts).
      .onRequest(acp.methods.client.fs.readTextFile, async ({ params }) => ({
        content: await fs
          .readTextFile(params)
          .catch((e: unknown) => ((e as NodeJS.ErrnoException).code === 'ENOENT' ? '' : fsError(e))),
      }))
      .onRequest(acp.methods.client.fs.writeTextFile, async ({ params }) => {
        await fs.writeTextFile(params).catch(fsError);
        return {};
      });
    const connection = app.connect(stream);
    const fsCap = options.fsCapability ?? true;
    const initializeResponse = await connection.agent.request(acp.methods.agent.initialize, {
      protocolVersion: acp.PROTOCOL_VERSION,
      clientCapabilities: { fs: { readTextFile: fsCap, writeTextFile: fsCap }, terminal: false },
      clientInfo: { name: 'sam-vm-agent', version: '1.0.0' },
    });
    const client = new AgentClient(options, connection, initializeResponse, recorder);
    holder.client = client;
    return client;
  }

  get sessionIdOfAgent(): string | null {
    return this.acpSessionId;
  }

  get closed(): Promise<void> {
    return this.connection.closed;
  }

  private mcpServers(): acp.McpServer[] {
    if (!this.options.mcp) return [];
    if (this.options.mcp.stdioBridge) return [this.options.mcp.stdioBridge];
    if (!this.initializeResponse.agentCapabilities?.mcpCapabilities?.http) {
      this.recorder.system('The agent does not support HTTP MCP servers; SAM tools are unavailable.', {
        event: 'mcp_unsupported',
      });
      return [];
    }
    return [samMcpServerEntry(this.options.mcp)];
  }

  /** `session/new` in the workspace; returns the agent's session id (keep it for `load`). */
  async newSession(): Promise<string> {
    const early: acp.SessionNotification[] = [];
    this.early = early;
    const response = await this.connection.agent
      .request(acp.methods.agent.session.new, { cwd: this.options.workspaceRoot, mcpServers: this.mcpServers() })
      .finally(() => {
        this.early = null;
      });
    this.acpSessionId = response.sessionId;
    this.recorder.system('Agent session started', { event: 'session_started', acpSessionId: response.sessionId });
    for (const notification of early) this.onUpdate(notification);
    return response.sessionId;
  }

  /** `session/load` of an earlier agent session (after a VM-agent restart). */
  async loadSession(acpSessionId: string): Promise<void> {
    if (!this.initializeResponse.agentCapabilities?.loadSession) {
      throw new Error('the agent cannot load sessions');
    }
    this.acpSessionId = acpSessionId;
    this.replaying = !(this.options.recordReplay ?? false);
    try {
      await this.connection.agent.request(acp.methods.agent.session.load, {
        sessionId: acpSessionId,
        cwd: this.options.workspaceRoot,
        mcpServers: this.mcpServers(),
      });
    } finally {
      this.replaying = false;
    }
    this.recorder.system('Agent session resumed', { event: 'session_loaded', acpSessionId });
    await this.settled();
  }

  /** One prompt turn. Resolves with the stop reason once every record of the turn was handed over. */
  async prompt(text: string): Promise<acp.StopReason> {
    const sessionId = this.requireSession();
    const timer = setInterval(() => this.recorder.flush(), this.options.flushIntervalMs ?? 250);
    this.lastTurnTokens = null;
    this.firstPromptAt ??= Date.now();
    try {
      const response = await this.connection.agent.request(acp.methods.agent.session.prompt, {
        sessionId,
        prompt: [{ type: 'text', text }],
      });
      this.lastTurnTokens = this.usage.onTurn(response)?.totalTokens ?? null;
      this.recorder.system(`Turn ended: ${response.stopReason}`, {
        event: 'turn_end',
        stopReason: response.stopReason,
      });
      await this.settled();
      return response.stopReason;
    } catch (error) {
      const message = error instanceof Error ? error.message : JSON.stringify(error);
      this.recorder.system(`Turn failed: ${message}`, { event: 'turn_error' });
      await this.settled().catch(() => {});
      throw error;
    } finally {
      clearInterval(timer);
    }
  }

  /** `session/cancel`: the running prompt resolves with `cancelled`. */
  async cancel(): Promise<void> {
    await this.connection.agent.notify(acp.methods.agent.session.cancel, { sessionId: this.requireSession() });
  }

  /** Flushes coalesced chunks and waits until `onRecord` has taken every record so far. */
  async settled(): Promise<void> {
    this.recorder.flush();
    await this.chain;
    if (this.sinkError) throw this.sinkError;
  }

  close(): void {
    this.recorder.flush();
    this.connection.close();
  }

  private requireSession(): string {
    if (!this.acpSessionId) throw new Error('no agent session: call newSession() or loadSession() first');
    return this.acpSessionId;
  }

  private onUpdate(notification: acp.SessionNotification): void {
    if (this.acpSessionId === null && this.early) {
      this.early.push(notification);
      return;
    }
    if (notification.sessionId !== this.acpSessionId || this.replaying) return;
    // Usage is counted, not chatted: the task shows the totals.
    if (notification.update.sessionUpdate === 'usage_update') return this.usage.onUsageUpdate(notification.update);
    if (
      this.firstPromptAt !== null &&
      !this.firstUpdateLogged &&
      SHOWN_UPDATES.has(notification.update.sessionUpdate)
    ) {
      // For bench/agents-first-message.ts: the first shown update of the first turn (epoch ms, no content).
      this.firstUpdateLogged = true;
      const timing = {
        promptAt: this.firstPromptAt,
        firstUpdateAt: Date.now(),
        kind: notification.update.sessionUpdate,
      };
      this.options.log?.(`agent first update ${JSON.stringify(timing)}`);
    }
    this.recorder.handle(notification.update);
  }

  /**
   * Hands a record over at once (in order: `onRecord` is called synchronously per record) and keeps
   * its completion in the chain, so an outbox can group-commit many appends with one fsync.
   */
  private deliver(record: MessageRecord): void {
    const fail = (error: unknown) => {
      this.sinkError ??= error;
      this.options.log?.(`vm-agent: could not store message ${record.messageId}: ${String(error)}`);
    };
    let done: Promise<void>;
    try {
      done = Promise.resolve(this.options.onRecord(record)).catch(fail);
    } catch (error) {
      fail(error);
      done = Promise.resolve();
    }
    this.chain = Promise.all([this.chain, done]).then(() => {});
  }
}
