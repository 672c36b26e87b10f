import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../supabase/local/paths.ts';

/** Every TypeScript source under `dir` (relative to the repository), skipping dependencies and builds. */
function sources(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    for (const name of readdirSync(abs)) {
      if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
      const path = join(abs, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(ts|tsx|mjs)$/.test(name)) out.push(relative(root, path));
    }
  };
  walk(join(root, dir));
  return out;
}

/** The import specifiers of a file (static and dynamic). */
function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|^import\s+)['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** Relative imports of a file, resolved to repository paths. */
function localImports(file: string): string[] {
  return imports(file)
    .filter((s) => s.startsWith('.'))
    .map((s) => relative(root, resolve(dirname(join(root, file)), s)));
}

describe('layering', () => {
  it('keeps functions/_shared/common free of runtime APIs: only zod and its own files', () => {
    for (const file of sources('functions/_shared/common')) {
      for (const spec of imports(file)) {
        if (spec.startsWith('.')) {
          const target = relative(root, resolve(dirname(join(root, file)), spec));
          expect(target.startsWith('functions/_shared/common/'), `${file} imports ${spec}`).toBe(true);
        } else {
          expect(['zod', 'vitest'], `${file} imports ${spec}`).toContain(spec);
        }
      }
    }
  });

  it('lets the vm-agent, the web chat and the CLI reach the functions only through functions/_shared/common', () => {
    for (const file of [...sources('vm-agent'), ...sources('web/src'), ...sources('cli')]) {
      for (const target of localImports(file)) {
        if (target.startsWith('functions/')) {
          expect(target.startsWith('functions/_shared/common/'), `${file} imports ${target}`).toBe(true);
        }
      }
    }
  });

  it('keeps the local stand-in and the machine host independent of the CLI in scripts/', () => {
    for (const file of [...sources('supabase/local'), ...sources('local-machines')]) {
      for (const target of localImports(file)) {
        expect(target.startsWith('scripts/'), `${file} imports ${target}`).toBe(false);
      }
    }
  });

  it('has no import cycle in supabase/local', () => {
    const files = new Set(sources('supabase/local'));
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const next of localImports(file)) if (files.has(next)) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
