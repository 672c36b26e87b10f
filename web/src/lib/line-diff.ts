/**
 * A line diff of two texts in the hunk shape of a branch diff
 * (functions/_shared/common/contracts/branch-diff.ts), for the `diff` content of an agent's tool
 * call (ACP gives the old and new text of the file, not a patch). Common lines at both ends are
 * trimmed first; the middle is an LCS when small enough, else all of it removed then added.
 */
import type { DiffHunk } from '../../../functions/_shared/common/contracts/branch-diff.ts';

export interface LineDiff {
  hunks: DiffHunk[];
  additions: number;
  deletions: number;
  /** Lines were left out (more than `maxLines`). */
  truncated: boolean;
}

type Op = { op: ' ' | '-' | '+'; text: string; oldNo: number; newNo: number };

/** Above this many cells (old × new lines of the middle) the LCS is not computed. */
const MAX_LCS_CELLS = 1_000_000;

function lines(text: string | null): string[] {
  if (!text) return [];
  const out = text.split('\n');
  if (out[out.length - 1] === '') out.pop();
  return out;
}

function middleOps(a: string[], b: string[]): ('=' | '-' | '+')[] {
  const n = a.length;
  const m = b.length;
  if (n * m > MAX_LCS_CELLS) return [...a.map(() => '-' as const), ...b.map(() => '+' as const)];
  // lcs[i][j] = LCS length of a[i..] and b[j..], in one flat array.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] =
        a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    }
  }
  const ops: ('=' | '-' | '+')[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push('=');
      i++;
      j++;
    } else if (lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!) {
      ops.push('-');
      i++;
    } else {
      ops.push('+');
      j++;
    }
  }
  while (i++ < n) ops.push('-');
  while (j++ < m) ops.push('+');
  return ops;
}

export function lineDiff(oldText: string | null, newText: string, context = 3, maxLines = 2000): LineDiff {
  const a = lines(oldText);
  const b = lines(newText);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let end = 0;
  while (end < a.length - start && end < b.length - start && a[a.length - 1 - end] === b[b.length - 1 - end]) end++;
  const ops: Op[] = [];
  let oldNo = 1;
  let newNo = 1;
  const push = (op: Op['op'], text: string) => {
    ops.push({ op, text, oldNo, newNo });
    if (op !== '+') oldNo++;
    if (op !== '-') newNo++;
  };
  for (let k = 0; k < start; k++) push(' ', a[k]!);
  let ai = start;
  let bi = start;
  for (const op of middleOps(a.slice(start, a.length - end), b.slice(start, b.length - end))) {
    if (op === '=') {
      push(' ', a[ai++]!);
      bi++;
    } else if (op === '-') push('-', a[ai++]!);
    else push('+', b[bi++]!);
  }
  for (let k = a.length - end; k < a.length; k++) push(' ', a[k]!);

  let additions = 0;
  let deletions = 0;
  const changed: number[] = [];
  ops.forEach((o, k) => {
    if (o.op === '+') additions++;
    if (o.op === '-') deletions++;
    if (o.op !== ' ') changed.push(k);
  });
  const hunks: DiffHunk[] = [];
  let kept = 0;
  let truncated = false;
  for (let c = 0; c < changed.length && !truncated;) {
    const from = Math.max(0, changed[c]! - context);
    let to = Math.min(ops.length, changed[c]! + context + 1);
    // Changes closer than twice the context share a hunk.
    while (c + 1 < changed.length && changed[c + 1]! - context <= to)
      to = Math.min(ops.length, changed[++c]! + context + 1);
    c++;
    const slice = ops.slice(from, to);
    const first = slice[0]!;
    const oldLines = slice.filter((o) => o.op !== '+').length;
    const newLines = slice.filter((o) => o.op !== '-').length;
    const oldStart = oldLines ? first.oldNo : first.oldNo - 1;
    const newStart = newLines ? first.newNo : first.newNo - 1;
    let body = slice.map((o) => `${o.op}${o.text}`);
    if (kept + body.length > maxLines) {
      body = body.slice(0, maxLines - kept);
      truncated = true;
    }
    kept += body.length;
    if (body.length === 0) break;
    hunks.push({
      header: `@@ -${oldStart},${oldLines} +${newStart},${newLines} @@`,
      oldStart,
      oldLines,
      newStart,
      newLines,
      lines: body,
    });
  }
  return { hunks, additions, deletions, truncated };
}
