import { mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { relativeTo, rewriteStrings, rootForms } from './relative-paths.ts';

const ROOT = '/srv/sam/workspaces/ws-1/repo';
const rel = relativeTo([ROOT]);

describe('relativeTo', () => {
  it('makes paths under the root relative to it, the root itself `.`', () => {
    expect(rel(`${ROOT}/README.md`)).toBe('README.md');
    expect(rel(`${ROOT}/src/x.ts`)).toBe('src/x.ts');
    expect(rel(`${ROOT}/.git`)).toBe('.git');
    expect(rel(ROOT)).toBe('.');
    expect(rel(`${ROOT}/`)).toBe('.');
    expect(rel(`${ROOT}/*.ts`)).toBe('*.ts');
  });

  it('rewrites every occurrence in text, wherever a path may stand', () => {
    expect(rel(`Edit ${ROOT}/README.md`)).toBe('Edit README.md');
    expect(rel(`cp ${ROOT}/a ${ROOT}/b`)).toBe('cp a b');
    expect(rel(`cd ${ROOT} && ls ${ROOT}/`)).toBe('cd . && ls .');
    expect(rel(`"${ROOT}/a.ts"`)).toBe('"a.ts"');
    expect(rel(`at f (${ROOT}/src/a.ts:3:4)`)).toBe('at f (src/a.ts:3:4)');
    expect(rel(`--cwd=${ROOT}`)).toBe('--cwd=.');
    expect(rel(`${ROOT}:${ROOT}/bin`)).toBe('.:bin');
    expect(rel(`wrote \`${ROOT}/a\`, then ${ROOT}/b; done`)).toBe('wrote `a`, then b; done');
    expect(rel(`line one\n${ROOT}/a\tx`)).toBe('line one\na\tx');
  });

  it('leaves paths outside the root alone, however alike they begin', () => {
    for (const outside of [
      `${ROOT}2/a.ts`,
      `${ROOT}.bak`,
      `${ROOT}-old/a`,
      `${ROOT}_x`,
      `/mnt${ROOT}/a.ts`,
      `file://${ROOT}/a.ts`,
      `x${ROOT}/a`,
      `${ROOT}//a`,
      '/srv/sam/workspaces/ws-1/other/a',
      '/etc/passwd',
      'repo/README.md',
      '',
    ]) {
      expect(rel(outside), outside).toBe(outside);
    }
    // A root followed by a dot might be a file named so: kept absolute rather than guessed.
    expect(rel(`Working in ${ROOT}.`)).toBe(`Working in ${ROOT}.`);
  });

  it('ignores a trailing slash on a root, and never uses `/` or a relative root', () => {
    expect(relativeTo([`${ROOT}/`])(`${ROOT}/a`)).toBe('a');
    expect(relativeTo([`${ROOT}//`])(ROOT)).toBe('.');
    expect(relativeTo(['/'])('/etc/passwd')).toBe('/etc/passwd');
    expect(relativeTo(['repo'])('repo/a')).toBe('repo/a');
    expect(relativeTo([])(`${ROOT}/a`)).toBe(`${ROOT}/a`);
  });

  it('takes roots with characters a pattern would mean otherwise literally', () => {
    const odd = '/tmp/a+b (1)/[x].y$/repo';
    const r = relativeTo([odd]);
    expect(r(`${odd}/a`)).toBe('a');
    expect(r(`${odd}/a and /tmp/aab (1)/[x]xy$/repo/b`)).toBe('a and /tmp/aab (1)/[x]xy$/repo/b');
  });

  it('prefers the longer of two nested roots', () => {
    const r = relativeTo(['/x/link', '/x/link/real']);
    expect(r('/x/link/real/a')).toBe('a');
    expect(r('/x/link/a')).toBe('a');
  });
});

describe('rootForms', () => {
  let dir: string | null = null;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = null;
  });

  it('names a symlinked root and its realpath, so paths the agent reports in either form are rewritten', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sam-rel-'));
    const real = path.join(dir, 'real', 'repo');
    await mkdir(real, { recursive: true });
    const link = path.join(dir, 'link');
    await symlink(real, link);
    const forms = rootForms(`${link}/`);
    expect(forms).toEqual([link, await realpath(real)]);
    const r = relativeTo(forms);
    expect(r(`${link}/a.ts`)).toBe('a.ts');
    expect(r(`${await realpath(real)}/src/b.ts`)).toBe('src/b.ts');
  });

  it('takes a root that does not exist as given, and never `/`', () => {
    expect(rootForms('/no/such/dir/repo/')).toEqual(['/no/such/dir/repo']);
    expect(rootForms('/')).toEqual([]);
  });
});

describe('rewriteStrings', () => {
  it('rewrites strings at any depth of arrays and plain objects, keys too, other values unchanged', () => {
    const date = new Date(0);
    const value = {
      title: `Edit ${ROOT}/a.ts`,
      locations: [{ path: `${ROOT}/a.ts`, line: 3 }],
      content: [{ type: 'diff', path: `${ROOT}/a.ts`, oldText: null, newText: `see ${ROOT}/b.ts` }],
      rawInput: { file_path: `${ROOT}/a.ts`, [`${ROOT}/key`]: true, nested: [[`${ROOT}`]] },
      n: 1,
      none: null,
      date,
    };
    expect(rewriteStrings(value, rel)).toEqual({
      title: 'Edit a.ts',
      locations: [{ path: 'a.ts', line: 3 }],
      content: [{ type: 'diff', path: 'a.ts', oldText: null, newText: 'see b.ts' }],
      rawInput: { file_path: 'a.ts', key: true, nested: [['.']] },
      n: 1,
      none: null,
      date,
    });
    expect(rewriteStrings(`${ROOT}/a`, rel)).toBe('a');
  });

  it('keeps a key that would clash with another as it was', () => {
    // Codex keys its changes by path: two names of one file, or a relative key already there.
    expect(rewriteStrings({ [`${ROOT}/a`]: 1, a: 2, [`${ROOT}/b`]: 3 }, rel)).toEqual({
      [`${ROOT}/a`]: 1,
      a: 2,
      b: 3,
    });
    const both = relativeTo([ROOT, '/real/repo']);
    expect(rewriteStrings({ [`${ROOT}/a`]: 1, '/real/repo/a': 2 }, both)).toEqual({ a: 1, '/real/repo/a': 2 });
  });

  it('keeps what lies deeper than maxDepth as it is', () => {
    const deep = { a: { b: `${ROOT}/x` } };
    expect(rewriteStrings(deep, rel, 1)).toEqual({ a: { b: `${ROOT}/x` } });
    expect(rewriteStrings(deep, rel, 2)).toEqual({ a: { b: 'x' } });
  });
});
