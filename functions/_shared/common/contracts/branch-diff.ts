/**
 * The diff of a task branch: what the agent changed, as the chat shows it. The vm-agent computes it
 * after the finishing commit (`git diff <base>...HEAD`, vm-agent/git/branch-diff.ts) and records it
 * as a `system` message with `metadata.event = 'branch_diff'` and the diff in
 * `metadata.branchDiff`; the web chat renders it (web/src/components/DiffView.tsx). One shape from
 * the machine to the screen, bounded so one record stays well inside a message batch.
 *
 * Pure TypeScript on purpose: the vm-agent (Node), the functions (Deno) and the web import it.
 */
import { z } from 'zod';

export const BRANCH_DIFF_EVENT = 'branch_diff';

/** Caps: files listed, hunk text kept per file and in all, one line's length. */
export const DIFF_LIMITS = {
  files: 200,
  fileBytes: 16 * 1024,
  totalBytes: 48 * 1024,
  lineChars: 400,
} as const;

export const DIFF_FILE_STATUSES = ['added', 'modified', 'deleted', 'renamed', 'copied', 'changed'] as const;

/** One hunk: its `@@` header and its lines, each with git's prefix (`' '`, `+`, `-`, `\`). */
export const DiffHunk = z
  .object({
    header: z.string().max(DIFF_LIMITS.lineChars + 40),
    oldStart: z.number().int().min(0),
    oldLines: z.number().int().min(0),
    newStart: z.number().int().min(0),
    newLines: z.number().int().min(0),
    lines: z.array(z.string().max(DIFF_LIMITS.lineChars + 1)),
  })
  .strict();
export type DiffHunk = z.infer<typeof DiffHunk>;

export const DiffFile = z
  .object({
    path: z.string().min(1).max(1000),
    /** The path before a rename or copy. */
    oldPath: z.string().max(1000).nullable(),
    status: z.enum(DIFF_FILE_STATUSES),
    additions: z.number().int().min(0),
    deletions: z.number().int().min(0),
    binary: z.boolean(),
    hunks: z.array(DiffHunk),
    /** Hunks were left out (the file's or the whole diff's size cap). */
    truncated: z.boolean(),
  })
  .strict();
export type DiffFile = z.infer<typeof DiffFile>;

export const BranchDiff = z
  .object({
    /** The branch compared against (e.g. `main`) and the task branch. */
    base: z.string().min(1).max(255),
    branch: z.string().max(255).nullable(),
    baseSha: z.string().max(64),
    headSha: z.string().max(64),
    files: z.array(DiffFile).max(DIFF_LIMITS.files),
    /** Every changed file, including those beyond the listed ones. */
    totalFiles: z.number().int().min(0),
    additions: z.number().int().min(0),
    deletions: z.number().int().min(0),
    /** Files or hunks were left out. */
    truncated: z.boolean(),
  })
  .strict();
export type BranchDiff = z.infer<typeof BranchDiff>;

/** The branch diff a message carries, or null (not one, or malformed). */
export function branchDiffOf(message: { role: string; metadata: Record<string, unknown> | null }): BranchDiff | null {
  if (message.role !== 'system' || message.metadata?.event !== BRANCH_DIFF_EVENT) return null;
  const parsed = BranchDiff.safeParse(message.metadata.branchDiff);
  return parsed.success ? parsed.data : null;
}

/** The one-line summary that is the record's content, e.g. `Changes on sam/x: 2 files, +10 −3`. */
export function branchDiffSummary(
  diff: Pick<BranchDiff, 'branch' | 'base' | 'totalFiles' | 'additions' | 'deletions'>,
) {
  const files = `${diff.totalFiles} file${diff.totalFiles === 1 ? '' : 's'}`;
  return `Changes on ${diff.branch ?? 'the branch'} against ${diff.base}: ${files}, +${diff.additions} −${diff.deletions}`;
}
