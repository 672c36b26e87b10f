/**
 * Agent crashes: which prompt failures mean the agent (or the pipe to it) died, and the crash
 * report the chat gets for one — with the agent's stderr tail redacted of every credential and
 * token, whatever its form: the session's own secrets (stored credential, agent and workspace
 * tokens) by value, and by pattern bearer tokens, JWTs (SAM's node, workspace and agent tokens),
 * `sk-…` model keys, GitHub tokens (`ghp_`, `ghs_`, `github_pat_`, …), AWS access keys, private
 * keys and `key=value` pairs whose name says secret.
 */
import {
  CrashReport,
  MAX_CRASH_STDERR_BYTES,
  type CrashReport as CrashReportType,
} from '../../functions/_shared/common/contracts/messages.ts';

export type CrashAttribution = CrashReportType['attribution'];

/** What a failure's text says when the agent or its pipe went away. */
const CRASH_TEXT =
  /\b(EOF|EPIPE|ECONNRESET|broken pipe|connection reset|stdin is closed|peer disconnect(?:ed)?|ACP connection closed|stream (?:was )?closed|the agent (?:process )?exited|process exited|socket hang up)\b/i;

/** An error raised because the agent process ended (see {@link AgentExitedError}). */
export class AgentExitedError extends Error {
  constructor(readonly how: string) {
    super(`the agent process exited (${how})`);
    this.name = 'AgentExitedError';
  }
}

/**
 * Whether a prompt failure is a crash (worth a restart and `session/load`) rather than an answer:
 * the process is gone, or the error says the connection broke. An error the agent returned over
 * ACP (a JSON-RPC error object with a code) is an answer, not a crash.
 */
export function isCrashLike(error: unknown, processExited = false): boolean {
  if (processExited || error instanceof AgentExitedError) return true;
  if (error && typeof error === 'object' && 'code' in error && typeof (error as { code: unknown }).code === 'number') {
    return false; // a JSON-RPC error: the agent answered
  }
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'EPIPE' || code === 'ECONNRESET' || code === 'ERR_STREAM_DESTROYED') return true;
  const text = error instanceof Error ? error.message : String(error);
  return CRASH_TEXT.test(text);
}

const REDACTED = '[REDACTED]';

/** Patterns of credentials and tokens, each replaced whole by {@link REDACTED}. */
const PATTERNS: RegExp[] = [
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g,
  /\bBearer\s+[A-Za-z0-9._~+/=-]{8,}/gi,
  /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g, // JWTs: SAM's node/workspace/agent tokens
  /\bsk-[A-Za-z0-9_-]{8,}/g, // OpenAI, Anthropic (sk-ant-…)
  /\bgh[pousr]_[A-Za-z0-9]{8,}/g,
  /\bgithub_pat_[A-Za-z0-9_]{8,}/g,
  /\bsam_[a-z]+_[A-Za-z0-9_-]{8,}/g,
  /\bAIza[0-9A-Za-z_-]{20,}/g, // Google API keys
  /\bAKIA[0-9A-Z]{16}\b/g,
  /\bxox[abpr]-[A-Za-z0-9-]{8,}/g,
  /(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, // URL credentials
];

/** `NAME=value`, `"name": "value"`, `name: value` where the name says it is secret. */
const NAMED =
  /((?:["']?)[A-Za-z0-9_.-]*(?:api[_-]?key|token|secret|password|passwd|authorization|credential|private[_-]?key)[A-Za-z0-9_.-]*["']?\s*[:=]\s*)(["']?)([^\s"',;}]+)\2/gi;

/** `text` with every given secret and every credential-shaped string replaced. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  // Longest first, so a secret containing another is removed whole.
  for (const secret of [...secrets].filter((s) => s && s.length >= 4).sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join(REDACTED);
  }
  for (const pattern of PATTERNS) {
    out = out.replace(pattern, (match, scheme?: unknown) =>
      typeof scheme === 'string' && match.startsWith(scheme) ? `${scheme}${REDACTED}@` : REDACTED,
    );
  }
  return out.replace(NAMED, (_m, name: string, quote: string) => `${name}${quote}${REDACTED}${quote}`);
}

/** The last {@link MAX_CRASH_STDERR_BYTES} of stderr, redacted, and whether anything was cut. */
export function stderrTail(stderr: string, secrets: readonly string[]): { stderr: string; truncated: boolean } {
  // Redact the whole tail first: a secret cut in half by the window would otherwise survive in part.
  const clean = redactSecrets(stderr, secrets);
  const bytes = Buffer.from(clean, 'utf8');
  if (bytes.byteLength <= MAX_CRASH_STDERR_BYTES) return { stderr: clean, truncated: false };
  const cut = bytes
    .subarray(bytes.byteLength - MAX_CRASH_STDERR_BYTES)
    .toString('utf8')
    .replace(/^\uFFFD+/, '');
  // Starting mid-line could show the tail of a secret whose head was cut off; start at a line.
  const newline = cut.indexOf('\n');
  return { stderr: newline >= 0 && newline < cut.length - 1 ? cut.slice(newline + 1) : cut, truncated: true };
}

export type CrashFacts = {
  agentType: string;
  recovered: boolean;
  attribution: CrashAttribution;
  /** What went wrong (the prompt's error). */
  cause: unknown;
  recoveryError?: unknown;
  /** Raw stderr tail of the agent that died (redacted here). */
  stderr: string;
  /** Values that must not appear: the session's credential, its tokens. */
  secrets: readonly string[];
  at?: Date;
};

/** An error's message, with the details an ACP error carries in `data` ("Internal error" alone says nothing). */
const text = (e: unknown): string => {
  if (!(e instanceof Error)) return String(e);
  const data = (e as { data?: unknown }).data;
  const details =
    typeof data === 'string'
      ? data
      : data && typeof data === 'object' && typeof (data as { details?: unknown }).details === 'string'
        ? (data as { details: string }).details
        : null;
  return details && !e.message.includes(details) ? `${e.message}: ${details}` : e.message;
};

function suggestionFor(facts: CrashFacts): string {
  if (facts.recovered) {
    return facts.attribution === 'workspace_runner'
      ? 'The machine restarted its vm-agent and the conversation was loaded again. Send a message to continue; the interrupted turn was not repeated.'
      : 'The agent was restarted and its conversation loaded again. Send a message to continue; the interrupted turn was not repeated.';
  }
  return 'The conversation could not be loaded into a new agent process, so the task failed. Re-run the task (its branch keeps any pushed work) or check the agent\u2019s stderr below.';
}

/** The crash report for the chat: every free text redacted, stderr cut to its tail. */
export function buildCrashReport(facts: CrashFacts): CrashReportType {
  const clean = (value: string, max: number) => redactSecrets(value, facts.secrets).slice(0, max);
  const tail = stderrTail(facts.stderr, facts.secrets);
  const what = facts.attribution === 'workspace_runner' ? 'The vm-agent running this workspace' : 'The agent process';
  return CrashReport.parse({
    agentType: facts.agentType,
    recovered: facts.recovered,
    occurredAt: (facts.at ?? new Date()).toISOString(),
    attribution: facts.attribution,
    message: clean(`${what} stopped mid-turn: ${text(facts.cause)}`, 2000),
    suggestion: suggestionFor(facts),
    recoveryError: facts.recoveryError === undefined ? null : clean(text(facts.recoveryError), 2000),
    stderr: tail.stderr,
    stderrTruncated: tail.truncated,
  });
}

/** The one-line text of the chat message carrying a report. */
export function crashReportText(report: CrashReportType): string {
  return report.recovered
    ? `The ${report.agentType} agent crashed and was recovered: its conversation was loaded again. Waiting for your follow-up.`
    : `The ${report.agentType} agent crashed and could not be recovered: ${report.recoveryError ?? 'unknown error'}`;
}
