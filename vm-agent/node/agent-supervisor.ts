/**
 * An agent session that survives its agent's crash. A prompt turn that fails the way a dead agent
 * fails (EOF, EPIPE, ECONNRESET, a closed connection, the process exiting — acp/crash.ts) ends
 * the dead process's group, starts the agent again and loads the same ACP session with
 * `session/load`; it never starts a new session in its place. Either way the chat gets a crash
 * report (a `system` record, `metadata.event = 'crash_report'`), redacted of the session's secrets
 * and of every credential-shaped string. A recovered turn resolves `recovered` (the caller waits
 * for the user's follow-up); a failed recovery throws {@link RecoveryFailedError}.
 *
 * The same path resumes a session after a vm-agent restart ({@link AgentSupervisor.resume}).
 */
import type { CrashReport, MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import { CRASH_REPORT_EVENT } from '../../functions/_shared/common/contracts/messages.ts';
import {
  AgentExitedError,
  buildCrashReport,
  crashReportText,
  isCrashLike,
  type CrashAttribution,
} from '../acp/crash.ts';
import { startAgentSession, type AgentSessionStart, type RunningAgent } from './agent-session.ts';

export type TurnOutcome = { kind: 'ended'; stopReason: string } | { kind: 'recovered'; report: CrashReport };

export class RecoveryFailedError extends Error {
  constructor(readonly report: CrashReport) {
    super(`the agent crashed and its session could not be loaded again: ${report.recoveryError ?? report.message}`);
    this.name = 'RecoveryFailedError';
  }
}

export type AgentSupervisorOptions = {
  /** How to start the agent (its `resumeAcpSessionId` is set here). */
  start: AgentSessionStart;
  /** Values that must not appear in a report besides the agent's own (agent and workspace tokens). */
  secrets: () => readonly string[];
  /** Told before a restart (the control plane's session goes `recovering`). */
  onRecovering?: (reason: string) => Promise<void>;
  /** Restart attempts per crash (a new process that dies while loading counts one); default 2. */
  attempts?: number;
  /** Starts the agent; tests may wrap it. Default {@link startAgentSession}. */
  launch?: (options: AgentSessionStart) => Promise<RunningAgent>;
  now?: () => Date;
};

export class AgentSupervisor {
  private current: RunningAgent | null = null;
  /** The ACP session to load after a crash: the first agent's, kept across restarts. */
  acpSessionId: string | null = null;
  agentType: string;
  crashes = 0;
  private reports = 0;
  /** The last crash report filed. */
  lastReport: CrashReport | null = null;

  constructor(private readonly options: AgentSupervisorOptions) {
    this.agentType = options.start.launch?.agentType ?? options.start.payload.agentType ?? 'demo';
  }

  get agent(): RunningAgent | null {
    return this.current;
  }

  private launch(resume?: string): Promise<RunningAgent> {
    const start = { ...this.options.start, ...(resume ? { resumeAcpSessionId: resume } : {}) };
    return (this.options.launch ?? startAgentSession)(start);
  }

  /** Starts the agent with a new ACP session. */
  async start(): Promise<RunningAgent> {
    const agent = await this.launch();
    return this.adopt(agent);
  }

  private adopt(agent: RunningAgent): RunningAgent {
    this.current = agent;
    this.agentType = agent.agentType;
    this.acpSessionId = agent.acpSessionId;
    return agent;
  }

  /**
   * Starts the agent by loading an earlier session (a restarted vm-agent) and files a crash
   * report attributed to the workspace runner: recovered, or not (then throws).
   */
  async resume(acpSessionId: string, cause: string): Promise<RunningAgent> {
    this.acpSessionId = acpSessionId;
    const outcome = await this.recover(cause, '', 'workspace_runner');
    if (outcome.kind !== 'recovered') throw new Error('unreachable');
    return this.current!;
  }

  /** One turn; a crash is recovered (or reported as not) instead of thrown. */
  async prompt(text: string): Promise<TurnOutcome> {
    const agent = this.current;
    if (!agent) throw new Error('the agent is not running');
    try {
      return { kind: 'ended', stopReason: await agent.prompt(text) };
    } catch (error) {
      const exited = agent.process.child.exitCode !== null || agent.process.child.signalCode !== null;
      if (!isCrashLike(error, exited)) throw error;
      this.crashes++;
      const stderr = agent.process.stderrTail();
      this.current = null;
      agent.client.close();
      await agent.process.stop(1000); // whatever of its group survived goes too
      return this.recover(error, stderr, 'agent_process', agent);
    }
  }

  /** Restarts the agent and loads its session; files the report. */
  private async recover(
    cause: unknown,
    stderr: string,
    attribution: CrashAttribution,
    dead?: RunningAgent,
  ): Promise<TurnOutcome> {
    const secrets = () => [...this.options.secrets(), ...(dead?.secrets ?? [])];
    const reason = `${attribution === 'agent_process' ? 'agent crashed' : 'vm-agent restarted'}: ${
      cause instanceof Error ? cause.message : String(cause)
    }`.slice(0, 500);
    await this.options.onRecovering?.(reason).catch(() => {});
    let recoveryError: unknown = this.acpSessionId
      ? undefined
      : new Error('the agent had no session to load (it crashed before its session started)');
    const attempts = this.options.attempts ?? 2;
    for (let attempt = 1; this.acpSessionId && attempt <= attempts; attempt++) {
      try {
        const agent = await this.launch(this.acpSessionId);
        this.adopt(agent);
        const report = buildCrashReport({
          agentType: this.agentType,
          recovered: true,
          attribution,
          cause,
          stderr,
          secrets: [...secrets(), ...agent.secrets],
          at: this.options.now?.(),
        });
        await this.file(report);
        return { kind: 'recovered', report };
      } catch (error) {
        recoveryError = error;
        // An agent that cannot load sessions, or does not know this one, will not on a second try.
        if (/cannot load sessions|not found/i.test(String(error))) break;
      }
    }
    const report = buildCrashReport({
      agentType: this.agentType,
      recovered: false,
      attribution,
      cause,
      recoveryError,
      stderr,
      secrets: secrets(),
      at: this.options.now?.(),
    });
    await this.file(report).catch(() => {});
    throw new RecoveryFailedError(report);
  }

  /** Starts the agent by loading an earlier session quietly (no crash to report); throws when it cannot. */
  async load(acpSessionId: string): Promise<RunningAgent> {
    this.acpSessionId = acpSessionId;
    return this.adopt(await this.launch(acpSessionId));
  }

  private file(report: CrashReport): Promise<void> {
    this.lastReport = report;
    const record: MessageRecord = {
      messageId: `crash-report-${Date.now().toString(36)}-${++this.reports}`,
      sessionId: this.options.start.agentSessionId,
      role: 'system',
      content: crashReportText(report),
      metadata: { event: CRASH_REPORT_EVENT, crashReport: report },
      producedAt: report.occurredAt,
    };
    return this.options.start.onRecord(record);
  }

  /** After the agent died between turns: the same recovery as for a crash mid-turn. */
  async revive(): Promise<Extract<TurnOutcome, { kind: 'recovered' }>> {
    const agent = this.current;
    if (!agent) throw new Error('the agent is not running');
    const exit = await agent.process.exited;
    this.crashes++;
    const stderr = agent.process.stderrTail();
    this.current = null;
    agent.client.close();
    await agent.process.stop(1000);
    const cause = new AgentExitedError(exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`);
    return (await this.recover(cause, stderr, 'agent_process', agent)) as Extract<TurnOutcome, { kind: 'recovered' }>;
  }

  /** Ends the agent (a running turn is cancelled first). */
  async stop(graceMs?: number): Promise<void> {
    const agent = this.current;
    this.current = null;
    if (agent) await agent.stop(graceMs);
  }
}
