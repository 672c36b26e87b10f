/**
 * Paths inside a session's working directory (the repository checkout the agent runs in) as the
 * user knows them: relative to the repository. Agents report absolute paths — tool titles
 * ("Edit /…/workspaces/<id>/repo/README.md"), locations, diffs, raw input and output, their text —
 * and the chat should say `README.md`, not the machine's directory layout.
 *
 * A root is rewritten only where it stands as a path of its own:
 * - at the start of the text or after a space, a quote, an opening bracket, `=`, `,`, `;`, `:`,
 *   `|`, `&`, `>` or `*` (so `/mnt/x/repo`, `file:///x/repo` and `C/x/repo` stay as they are);
 * - followed by `/` and more path: the rest (`<root>/a/b` → `a/b`);
 * - followed by nothing a file name could go on with (the end, a space, a quote, a closing
 *   bracket, `,`, `;`, `:`, `|`, `&`), with or without one trailing `/`: `.`.
 * Anything else stays: `/x/repo2/a` and `/x/repo.bak` are not under `/x/repo`, `/x/repo//a` is odd,
 * and `/x/repo.` at a sentence's end might be a file `/x/repo.` — left absolute rather than guessed.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';

/** Rewrites one string's paths under the roots; the identity when there is nothing to rewrite. */
export type PathRewriter = (text: string) => string;

const BEFORE = String.raw`(?<=^|[\s"'\x60(\[{<=,;:|&>*])`;
/** What may follow a path and is not part of it. */
const AFTER = String.raw`\s"'\x60)\]}>,;:|&`;

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/**
 * The forms an agent may report `root` in: as given (resolved, without a trailing slash) and its
 * realpath when that differs (a symlinked workspace directory). Never `/` itself.
 */
export function rootForms(root: string): string[] {
  const given = path.resolve(root);
  const forms = [given];
  try {
    const real = realpathSync(given);
    if (real !== given) forms.push(real);
  } catch {
    // Not there (yet): the given form is all an agent can have been told.
  }
  return forms.filter((f) => f !== path.parse(f).root);
}

/** A rewriter of paths under any of `roots` (absolute; a trailing slash is ignored, `/` never used). */
export function relativeTo(roots: readonly string[]): PathRewriter {
  const usable = [...new Set(roots.filter((r) => r.startsWith('/')).map((r) => r.replace(/\/+$/, '')))].filter(
    (r) => r !== '',
  );
  if (usable.length === 0) return (text) => text;
  // Longest first: a root inside another root's directory wins where both would fit.
  const alternatives = usable
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp)
    .join('|');
  const pattern = new RegExp(`${BEFORE}(?:${alternatives})(?:(/)(?=[^/${AFTER}])|/?(?=$|[${AFTER}]))`, 'g');
  return (text) =>
    usable.some((r) => text.includes(r)) ? text.replace(pattern, (_m, rest?: string) => (rest ? '' : '.')) : text;
}

/**
 * `value` with every string inside it rewritten: array items, plain objects' values and keys (Codex
 * keys its `changes` by path; a key that would then clash with another stays as it was). Other
 * values as they are. Parsed JSON, as agents send it: nesting beyond `maxDepth` is kept as is.
 */
export function rewriteStrings<T>(value: T, rewrite: PathRewriter, maxDepth = 32): T {
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return rewrite(v);
    if (v === null || typeof v !== 'object' || depth >= maxDepth) return v;
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) return v;
    const entries = Object.entries(v);
    const keys = new Set(entries.map(([k]) => k));
    const out: Record<string, unknown> = {};
    for (const [k, item] of entries) {
      const key = rewrite(k);
      const free = key === k || (!keys.has(key) && !Object.hasOwn(out, key));
      out[free ? key : k] = walk(item, depth + 1);
    }
    return out;
  };
  return walk(value, 0) as T;
}
