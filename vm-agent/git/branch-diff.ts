/**
 * The diff of the task branch against its base, for the chat: `git diff <base>...HEAD` as files
 * (status, +/- counts) and hunks, within {@link DIFF_LIMITS} so one message record carries it.
 * Counts and statuses cover every file; hunks are read per file until the byte budget is spent
 * (a file too large for its budget is not even read). git runs without external diff drivers or
 * textconv (a repository's config cannot make it run a program here), and every path and line
 * passes through `redact` (the workspace's secrets). {@link shareBranchDiff} records it.
 */
import {
  BRANCH_DIFF_EVENT,
  branchDiffSummary,
  DIFF_LIMITS,
  type BranchDiff,
  type DiffFile,
  type DiffHunk,
} from '../../functions/_shared/common/contracts/branch-diff.ts';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import { git, runGit } from './run-git.ts';
import { gitOptions, type GitContext } from './workspace.ts';

export type BranchDiffOptions = GitContext & {
  dir: string;
  /** The ref to compare against, e.g. `origin/main`. */
  baseRef: string;
  /** Its name as the user knows it, e.g. `main`. */
  baseName: string;
  redact?: (text: string) => string;
  limits?: Partial<Record<keyof typeof DIFF_LIMITS, number>>;
};

/** Changed lines beyond which a file's hunks are not read (they could not fit its budget anyway). */
const MAX_LINES_READ = 4000;

const DIFF_FLAGS = ['--no-color', '--no-ext-diff', '--no-textconv', '-M'];
const STATUS: Record<string, DiffFile['status']> = {
  A: 'added',
  M: 'modified',
  D: 'deleted',
  R: 'renamed',
  C: 'copied',
};

type Entry = { status: DiffFile['status']; path: string; oldPath: string | null };

/** `--name-status -z` output: `M\0path\0`, `R100\0old\0new\0`, … */
function parseNameStatus(out: string): Entry[] {
  const parts = out.split('\0');
  const entries: Entry[] = [];
  for (let i = 0; i < parts.length - 1;) {
    const code = parts[i++]!;
    if (!code) continue;
    const status = STATUS[code[0]!] ?? 'changed';
    if (status === 'renamed' || status === 'copied') {
      const oldPath = parts[i++]!;
      entries.push({ status, oldPath, path: parts[i++]! });
    } else entries.push({ status, oldPath: null, path: parts[i++]! });
  }
  return entries;
}

type Counts = { additions: number; deletions: number; binary: boolean };

/** `--numstat -z` output by path: `a\td\tpath\0`, or `a\td\t\0old\0new\0` for a rename; `-\t-` is binary. */
function parseNumstat(out: string): Map<string, Counts> {
  const parts = out.split('\0');
  const counts = new Map<string, Counts>();
  for (let i = 0; i < parts.length - 1;) {
    const field = parts[i++]!;
    if (!field) continue;
    const [a, d, named] = field.split('\t');
    let path = named!;
    if (named === '') {
      // A rename or copy: the old and the new path follow.
      path = parts[i + 1]!;
      i += 2;
    }
    const binary = a === '-' && d === '-';
    counts.set(path, { additions: binary ? 0 : Number(a), deletions: binary ? 0 : Number(d), binary });
  }
  return counts;
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/** The hunks of one file's patch, cut to `budget` bytes of line text; `cut` when some were left out. */
export function parseHunks(
  patch: string,
  budget: number,
  lineChars: number,
  redact: (t: string) => string,
): { hunks: DiffHunk[]; cut: boolean; bytes: number } {
  const hunks: DiffHunk[] = [];
  let current: DiffHunk | null = null;
  let bytes = 0;
  let cut = false;
  for (const raw of patch.split('\n')) {
    const header = HUNK_HEADER.exec(raw);
    if (header) {
      if (cut) break;
      current = {
        header: redact(raw).slice(0, lineChars + 40),
        oldStart: Number(header[1]),
        oldLines: header[2] === undefined ? 1 : Number(header[2]),
        newStart: Number(header[3]),
        newLines: header[4] === undefined ? 1 : Number(header[4]),
        lines: [],
      };
      hunks.push(current);
      continue;
    }
    if (!current || !/^[ +\-\\]/.test(raw)) continue;
    const line = redact(raw).slice(0, lineChars + 1);
    if (bytes + line.length + 1 > budget) {
      cut = true;
      // A hunk cut short keeps what fit; one with no lines at all goes.
      if (current.lines.length === 0) hunks.pop();
      current = null;
      continue;
    }
    bytes += line.length + 1;
    current.lines.push(line);
  }
  return { hunks, cut, bytes };
}

/** The diff of HEAD against the merge base with `baseRef`. */
export async function branchDiff(options: BranchDiffOptions): Promise<BranchDiff> {
  const limits = { ...DIFF_LIMITS, ...options.limits };
  const redact = options.redact ?? ((t: string) => t);
  const opts = gitOptions(options, options.dir);
  const run = (args: string[]) => git(['-c', 'core.fsmonitor=false', ...args], opts);
  // Not trimmed: `-z` output ends in NUL, and paths may end in spaces.
  const raw = async (args: string[]) => {
    const result = await runGit(['-c', 'core.fsmonitor=false', ...args], opts);
    if (result.code !== 0) throw new Error(`git ${args[0]} failed (exit ${result.code}): ${result.stderr}`);
    return result.stdout;
  };
  const headSha = await run(['rev-parse', '--verify', 'HEAD']);
  const baseSha = await run(['merge-base', options.baseRef, 'HEAD']);
  const branch = (await run(['symbolic-ref', '--quiet', '--short', 'HEAD']).catch(() => '')) || null;
  const entries = parseNameStatus(await raw(['diff', ...DIFF_FLAGS, '--name-status', '-z', baseSha, headSha]));
  const counts = parseNumstat(await raw(['diff', ...DIFF_FLAGS, '--numstat', '-z', baseSha, headSha]));
  let additions = 0;
  let deletions = 0;
  for (const c of counts.values()) {
    additions += c.additions;
    deletions += c.deletions;
  }
  let spent = 0;
  let truncated = entries.length > limits.files;
  const files: DiffFile[] = [];
  for (const entry of entries.slice(0, limits.files)) {
    const c = counts.get(entry.path) ?? { additions: 0, deletions: 0, binary: false };
    const file: DiffFile = {
      path: redact(entry.path).slice(0, 1000),
      oldPath: entry.oldPath === null ? null : redact(entry.oldPath).slice(0, 1000),
      status: entry.status,
      additions: c.additions,
      deletions: c.deletions,
      binary: c.binary,
      hunks: [],
      truncated: false,
    };
    files.push(file);
    if (c.binary || c.additions + c.deletions === 0) continue;
    const budget = Math.min(limits.fileBytes, limits.totalBytes - spent);
    if (budget <= 0 || c.additions + c.deletions > MAX_LINES_READ) {
      file.truncated = truncated = true;
      continue;
    }
    const paths = [entry.oldPath, entry.path].filter((p): p is string => p !== null).map((p) => `:(literal)${p}`);
    const patch = await raw(['diff', ...DIFF_FLAGS, '-U3', baseSha, headSha, '--', ...paths]);
    const parsed = parseHunks(patch, budget, limits.lineChars, redact);
    file.hunks = parsed.hunks;
    file.truncated = parsed.cut;
    truncated ||= parsed.cut;
    spent += parsed.bytes;
  }
  return {
    base: options.baseName,
    branch: branch && redact(branch),
    baseSha,
    headSha,
    files,
    totalFiles: entries.length,
    additions,
    deletions,
    truncated,
  };
}

export type ShareBranchDiffOptions = BranchDiffOptions & {
  /** SAM's agent-session id (the chat the record goes to). */
  sessionId: string;
  /** Stable per workspace, so a retried finish records it once. */
  messageId: string;
  append: (record: MessageRecord) => Promise<void>;
  log?: (line: string) => void;
};

/**
 * Records the branch diff in the chat as a `system` message (`metadata.event = 'branch_diff'`);
 * nothing when the branch changes no file. Never throws: a failure is only logged.
 */
export async function shareBranchDiff(options: ShareBranchDiffOptions): Promise<BranchDiff | null> {
  try {
    const diff = await branchDiff(options);
    if (diff.totalFiles === 0) return diff;
    await options.append({
      messageId: options.messageId,
      sessionId: options.sessionId,
      role: 'system',
      content: branchDiffSummary(diff),
      metadata: { event: BRANCH_DIFF_EVENT, branchDiff: diff },
      producedAt: new Date().toISOString(),
    });
    return diff;
  } catch (error) {
    const redact = options.redact ?? ((t: string) => t);
    options.log?.(`could not share the branch diff: ${redact(error instanceof Error ? error.message : String(error))}`);
    return null;
  }
}
