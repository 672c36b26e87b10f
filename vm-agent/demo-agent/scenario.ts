/**
 * What the demo agent does for a prompt, decided without a model: a pure function of the prompt
 * text, so every run of the same prompt streams the same updates and makes the same edit.
 */
import path from 'node:path';

export const DEMO_GREETING = 'Hello from the SAM demo agent! 👋';

export type DemoTurn = {
  /** Workspace-relative file the agent appends to. */
  targetFile: string;
  /** The line appended to it. */
  line: string;
  thoughts: string[];
  intro: string[];
  summary: string[];
  /** Extra thought chunks `[#1]…[#N]` requested with `[stream:N]`, to make a turn last N × delay. */
  extraChunks: number;
  plan: string[];
  /** `[permission]`: ask the client before editing. */
  askPermission: boolean;
  /** Tokens the turn reports as used: `[tokens:N]`, else one per word it streams. */
  tokens: number;
  /** `{{subtask: …}}`: dispatch a sub-task with this description (over SAM's MCP tools). */
  subtask: string | null;
  /** `{{tell: …}}`: once that sub-task runs, send it this message (send_message_to_subtask). */
  tell: string | null;
  /** `{{ask: question | choice | …}}`: ask the human first (request_human_input) and wait for the answer. */
  ask: { question: string; options: string[] } | null;
};

const FILE_PATTERN = /(?:^|\s)([\w./-]+\.(?:md|txt|json|ts|js|py|yml|yaml|toml|rst))\b/i;
const STREAM_PATTERN = /\[stream:(\d{1,5})\]/i;
const PERMISSION_PATTERN = /\[permission\]/i;
const TOKENS_PATTERN = /\[tokens:(\d{1,9})\]/i;
const SUBTASK_PATTERN = /\{\{subtask:\s*([^}]*)\}\}/i;
const TELL_PATTERN = /\{\{tell:\s*([^}]*)\}\}/i;
const ASK_PATTERN = /\{\{ask:\s*([^}]*)\}\}/i;
/** Markers a prompt may carry; they steer the turn and are left out of the line it writes. */
const MARKERS = /\[(?:stream:\d{1,5}|permission|tokens:\d{1,9})\]|\{\{(?:subtask|tell|ask):[^}]*\}\}/gi;

/** Splits text into word-sized chunks, the way a model streams tokens (spaces kept). */
export function chunkWords(text: string): string[] {
  return text.match(/\S+\s*/g) ?? [];
}

/** Refuses absolute paths and `..` so a prompt cannot make the agent write outside its cwd. */
export function safeRelative(file: string): string | null {
  const normal = path.posix.normalize(file.replaceAll('\\', '/'));
  if (path.posix.isAbsolute(normal) || normal === '..' || normal.startsWith('../') || normal === '.') return null;
  return normal;
}

export function planTurn(promptText: string): DemoTurn {
  const text = promptText.trim();
  const mentioned = FILE_PATTERN.exec(text)?.[1];
  const targetFile = (mentioned && safeRelative(mentioned)) || 'README.md';
  const greeting = /greet|hello/i.test(text);
  const line = greeting ? DEMO_GREETING : `- ${text.replace(MARKERS, '').replace(/\s+/g, ' ').trim()}`;
  const extraChunks = Number(STREAM_PATTERN.exec(text)?.[1] ?? 0);
  const thoughts = chunkWords(`The request is: "${text}". I will update ${targetFile} and report progress to SAM.`);
  const intro = chunkWords(`I'll ${greeting ? 'add a greeting to' : 'note the request in'} ${targetFile}. `);
  const summary = chunkWords(`Done: appended "${line}" to ${targetFile}.`);
  const tokens = Number(TOKENS_PATTERN.exec(text)?.[1] ?? thoughts.length + intro.length + summary.length);
  return {
    askPermission: PERMISSION_PATTERN.test(text),
    subtask: SUBTASK_PATTERN.exec(text)?.[1]?.trim() || null,
    tell: TELL_PATTERN.exec(text)?.[1]?.trim() || null,
    ask: askOf(ASK_PATTERN.exec(text)?.[1]),
    tokens,
    targetFile,
    line,
    extraChunks,
    thoughts,
    intro,
    summary,
    plan: [`Read ${targetFile}`, `Append a line to ${targetFile}`, 'Report progress to SAM', 'Complete the task'],
  };
}

/** `question | choice | …` as a question and its choices; null without a question. */
function askOf(marker: string | undefined): DemoTurn['ask'] {
  const [question, ...options] = (marker ?? '').split('|').map((part) => part.trim());
  return question ? { question, options: options.filter(Boolean) } : null;
}

/** The turn once the human answered its question: the answer goes into the line and the summary. */
export function withAnswer(turn: DemoTurn, answer: string): DemoTurn {
  const line = `${turn.line} (answer: ${answer})`;
  return { ...turn, line, summary: chunkWords(`Done: appended "${line}" to ${turn.targetFile}.`) };
}

/** The new file content after appending `line` (keeps exactly one newline between lines). */
export function appendLine(existing: string, line: string): string {
  const sep = existing === '' || existing.endsWith('\n') ? '' : '\n';
  return `${existing}${sep}${line}\n`;
}
