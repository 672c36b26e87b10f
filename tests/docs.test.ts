import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../supabase/local/paths.ts';

/** Every file under the repository root, skipping dependencies, builds and dot-folders. */
function walk(dir = ''): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    if (e.name.startsWith('.') || ['node_modules', 'dist', 'coverage'].includes(e.name)) return [];
    const path = dir ? `${dir}/${e.name}` : e.name;
    return e.isDirectory() ? walk(path) : e.isFile() ? [path] : [];
  });
}

/**
 * The repository's files as git sees them (tracked and new, without what .gitignore hides), or,
 * in a copy without git, every file outside dependencies and builds.
 */
function repositoryFiles(): string[] {
  let listed: string;
  try {
    listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return walk();
  }
  return listed
    .split('\0')
    .filter((f) => f !== '' && !f.split('/').includes('node_modules') && existsSync(join(root, f)))
    .filter((f) => statSync(join(root, f)).isFile());
}

/** Every page of docs/, README.md, and the README of each folder (vm-agent/, web/, …). */
function documents(): string[] {
  const docs = existsSync(join(root, 'docs'))
    ? readdirSync(join(root, 'docs'))
        .filter((n) => n.endsWith('.md'))
        .map((n) => `docs/${n}`)
    : [];
  const readmes = repositoryFiles().filter((f) => f.endsWith('/README.md') && !f.startsWith('docs/'));
  return ['README.md', ...docs, ...readmes];
}

/** Markdown text without fenced code blocks (diagrams and shell sessions are not prose). */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```\s*$/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N}\s-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(markdownFile: string): Set<string> {
  const text = prose(readFileSync(markdownFile, 'utf8'));
  return new Set([...text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) => slug(m[1]!)));
}

/** Why `target` (a path relative to the repository, maybe with `#anchor`) does not resolve, or null. */
function brokenTarget(target: string): string | null {
  const [path, anchor] = target.split('#') as [string, string | undefined];
  const abs = join(root, path);
  if (!existsSync(abs)) return `${path} does not exist`;
  if (anchor && path.endsWith('.md') && !anchorsOf(abs).has(anchor)) return `${path} has no section #${anchor}`;
  return null;
}

/** Top-level names of the repository (folders and files), so `functions/…` reads as a path. */
function topLevel(): Set<string> {
  return new Set(readdirSync(root).filter((n) => !n.startsWith('.') && n !== 'node_modules'));
}

/** Expands `a/{b,c}.ts` into `a/b.ts`, `a/c.ts`. */
function expandBraces(path: string): string[] {
  const m = /\{([^{}]*)\}/.exec(path);
  if (!m) return [path];
  return m[1]!
    .split(',')
    .flatMap((alt) => expandBraces(path.slice(0, m.index) + alt + path.slice(m.index + m[0].length)));
}

/** The words of a backticked span that name a repository path, cut at the first placeholder or glob. */
function repositoryPaths(span: string, tops: Set<string>): string[] {
  return span
    .split(/\s+/)
    .map((w) => w.replace(/^[("']+|[)"',;:.]+$/g, ''))
    .filter((w) => w.includes('/') && tops.has(w.split('/')[0]!))
    .flatMap(expandBraces)
    .map((w) => {
      const [fixed, ...rest] = w.split(/[<…*]/) as [string, ...string[]];
      if (rest.length === 0) return fixed.replace(/\/+$/, '');
      // `a/b/*.sql` → `a/b`; `a/b/local-<x>.ts` → `a/b`: the folder before the placeholder.
      return fixed.endsWith('/') ? fixed.replace(/\/+$/, '') : dirname(fixed);
    })
    .filter((w) => w !== '' && w !== '.');
}

/** The comment part of each line of code (`//`, `--`, `#` to the end, or a `/** … *\/` block line). */
function commentText(code: string): string {
  return code
    .split('\n')
    .map((line) => {
      if (/^\s*(\/\*|\*)/.test(line)) return line;
      const m = /(?:^|\s)(\/\/|--|#)\s/.exec(line);
      return m ? line.slice(m.index) : '';
    })
    .join('\n');
}

describe('docs', () => {
  it('has the pages the README promises', () => {
    for (const page of ['docs/README.md', 'docs/architecture.md', 'docs/state-machines.md', 'docs/operator-guide.md']) {
      expect(existsSync(join(root, page)), page).toBe(true);
    }
  });

  it('links only to files (and sections) that exist', () => {
    const broken: string[] = [];
    for (const doc of documents()) {
      const text = prose(readFileSync(join(root, doc), 'utf8'));
      for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        const inRepo = target.startsWith('#')
          ? `${doc}${target}`
          : relative(root, resolve(dirname(join(root, doc)), target.split('#')[0]!)) +
            (target.includes('#') ? `#${target.split('#')[1]}` : '');
        const why = brokenTarget(inRepo);
        if (why) broken.push(`${doc}: (${target}) ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('names only repository paths that exist', () => {
    const tops = topLevel();
    const missing: string[] = [];
    for (const doc of documents()) {
      const text = prose(readFileSync(join(root, doc), 'utf8'));
      for (const m of text.matchAll(/`([^`\n]+)`/g)) {
        for (const path of repositoryPaths(m[1]!, tops)) {
          if (!existsSync(join(root, path))) missing.push(`${doc}: \`${m[1]}\` → ${path}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });

  it('is what comments cite: every docs/ page (and section) a file of the repository names exists', () => {
    const broken: string[] = [];
    for (const file of repositoryFiles()) {
      if (!/\.(ts|tsx|mjs|js|sql|psql|toml|json|md)$/.test(file)) continue;
      const text = readFileSync(join(root, file), 'utf8');
      const cited = file.endsWith('.md') ? text : commentText(text);
      for (const m of cited.matchAll(/(?<![\w./-])docs\/[\w-]+\.md(?:#[\w-]+)?/g)) {
        const why = brokenTarget(m[0]);
        if (why) broken.push(`${file}: ${m[0]} — ${why}`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('keeps every citation inside the repository: no file points at documents outside it', () => {
    // Built from parts so that this file does not match itself.
    const outside = ['..' + '/shared/', 'shared' + '/reference', 'reference' + ' §', 'DESIGN' + '.md'];
    const found: string[] = [];
    for (const file of repositoryFiles()) {
      const text = readFileSync(join(root, file), 'utf8');
      if (text.includes('\0')) continue; // binary
      text.split('\n').forEach((line, i) => {
        for (const phrase of outside) if (line.includes(phrase)) found.push(`${file}:${i + 1}: ${phrase}`);
        // A bare section number ("§1.6") cites the same outside notes; a standard names itself (RFC 9110 §7.6.1).
        if (/§\s*\d/.test(line) && !/\b(RFC|ISO|ECMA)[- ]?\d/.test(line)) found.push(`${file}:${i + 1}: §`);
      });
    }
    expect(found).toEqual([]);
  });
});
