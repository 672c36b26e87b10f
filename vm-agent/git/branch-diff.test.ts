import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BranchDiff, branchDiffOf } from '../../functions/_shared/common/contracts/branch-diff.ts';
import { MessageRecord, type MessageRecord as Record } from '../../functions/_shared/common/contracts/messages.ts';
import { makeRemote, sh } from '../test-support/git-repos.ts';
import { branchDiff, shareBranchDiff } from './branch-diff.ts';
import { completeWork } from './complete.ts';
import { checkoutTaskBranch, cloneRepository } from './workspace.ts';

let root: string;
let dir: string;
const BRANCH = 'sam/tidy-readme-a1b2c3';

beforeEach(async () => {
  let bare: string;
  ({ root, bare } = await makeRemote());
  dir = path.join(root, 'ws');
  await cloneRepository({ url: bare, dir, policy: { protocols: ['https', 'file'], localRoots: [root] } });
  await checkoutTaskBranch(dir, BRANCH);
  // main moves on after the branch started: its change is not the agent's and must not show.
  const other = path.join(root, 'other');
  sh(root, 'clone', '--quiet', bare, other);
  await writeFile(path.join(other, 'CHANGELOG.md'), 'main only\n');
  sh(other, 'add', '-A');
  sh(other, 'commit', '--quiet', '-m', 'main moves on');
  sh(other, 'push', '--quiet', 'origin', 'main');
  sh(dir, 'fetch', '--quiet', 'origin');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const diffOf = (extra: Partial<Parameters<typeof branchDiff>[0]> = {}) =>
  branchDiff({
    dir,
    baseRef: 'origin/main',
    baseName: 'main',
    policy: { protocols: ['https', 'file'], localRoots: [root] },
    ...extra,
  });

async function commitAgentWork(): Promise<void> {
  await writeFile(path.join(dir, 'README.md'), '# Demo project\nHello from the agent\n');
  await mkdir(path.join(dir, 'src'), { recursive: true });
  await writeFile(path.join(dir, 'src', 'new file.ts'), 'export const a = 1;\nexport const b = 2;\n');
  await writeFile(path.join(dir, 'logo.bin'), Buffer.from([0, 1, 2, 3, 0, 255]));
  const result = await completeWork({
    dir,
    defaultBranch: 'main',
    policy: { protocols: ['https', 'file'], localRoots: [root] },
  });
  expect(result.pushed).toBe(true);
}

describe('branch diff', () => {
  it('lists the files, +/- counts and hunks of the commit on the task branch against its merge base', async () => {
    await commitAgentWork();
    const diff = await diffOf();
    expect(BranchDiff.parse(diff)).toEqual(diff);
    expect(diff).toMatchObject({
      base: 'main',
      branch: BRANCH,
      headSha: sh(dir, 'rev-parse', 'HEAD'),
      baseSha: sh(dir, 'merge-base', 'origin/main', 'HEAD'),
      totalFiles: 3,
      additions: 3,
      deletions: 0,
      truncated: false,
    });
    expect(diff.files.map((f) => [f.path, f.status, f.additions, f.deletions, f.binary])).toEqual([
      ['README.md', 'modified', 1, 0, false],
      ['logo.bin', 'added', 0, 0, true],
      ['src/new file.ts', 'added', 2, 0, false],
    ]);
    const readme = diff.files[0]!;
    expect(readme.hunks).toEqual([
      {
        header: '@@ -1 +1,2 @@',
        oldStart: 1,
        oldLines: 1,
        newStart: 1,
        newLines: 2,
        lines: [' # Demo project', '+Hello from the agent'],
      },
    ]);
    expect(diff.files[2]!.hunks[0]!.lines).toEqual(['+export const a = 1;', '+export const b = 2;']);
    // main's own later change is not part of the branch's diff.
    expect(diff.files.some((f) => f.path === 'CHANGELOG.md')).toBe(false);
  });

  it('shows a rename with its old path, a deletion, and the lines the agent removed', async () => {
    sh(dir, 'mv', 'README.md', 'GUIDE.md');
    sh(dir, 'commit', '--quiet', '-m', 'rename');
    const diff = await diffOf();
    expect(diff.files.map((f) => [f.status, f.oldPath, f.path])).toEqual([['renamed', 'README.md', 'GUIDE.md']]);
    await rm(path.join(dir, 'GUIDE.md'));
    sh(dir, 'commit', '--quiet', '-am', 'remove');
    const removed = await diffOf();
    expect(removed.files.map((f) => [f.status, f.path, f.deletions])).toEqual([['deleted', 'README.md', 1]]);
    expect(removed.files[0]!.hunks[0]!.lines).toEqual(['-# Demo project']);
  });

  it('keeps within its caps: long lines cut, hunks beyond the byte budget left out and said so', async () => {
    const long = 'x'.repeat(2000);
    const lines = Array.from({ length: 300 }, (_, i) => `line ${i} ${long}`).join('\n');
    await writeFile(path.join(dir, 'big.txt'), `${lines}\n`);
    await writeFile(path.join(dir, 'small.txt'), 'small\n');
    sh(dir, 'add', '-A');
    sh(dir, 'commit', '--quiet', '-m', 'big');
    const diff = await diffOf({ limits: { fileBytes: 4096, totalBytes: 6000, lineChars: 100 } });
    const big = diff.files.find((f) => f.path === 'big.txt')!;
    expect(big.additions).toBe(300);
    expect(big.truncated).toBe(true);
    expect(diff.truncated).toBe(true);
    const kept = big.hunks.flatMap((h) => h.lines);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(300);
    expect(Math.max(...kept.map((l) => l.length))).toBeLessThanOrEqual(101);
    expect(kept.join('\n').length).toBeLessThanOrEqual(4096);
    // The next file still gets what is left of the whole budget.
    expect(diff.files.find((f) => f.path === 'small.txt')!.hunks[0]!.lines).toEqual(['+small']);
  });

  it("redacts the workspace's secrets from paths and lines, and runs no diff driver the repository configures", async () => {
    const secret = 'ghs_plantedSecretToken123';
    await writeFile(path.join(dir, 'config.txt'), `token=${secret}\n`);
    await writeFile(path.join(dir, '.gitattributes'), '*.txt diff=evil\n');
    const marker = path.join(root, 'driver-ran');
    sh(dir, 'config', 'diff.evil.command', `touch ${marker}`);
    sh(dir, 'config', 'diff.evil.textconv', `touch ${marker}; cat`);
    sh(dir, 'add', '-A');
    sh(dir, 'commit', '--quiet', '-m', 'config');
    const diff = await diffOf({ redact: (t) => t.split(secret).join('***') });
    expect(JSON.stringify(diff)).not.toContain(secret);
    expect(diff.files.find((f) => f.path === 'config.txt')!.hunks[0]!.lines).toEqual(['+token=***']);
    expect(existsSync(marker)).toBe(false);
  });

  it('records it as one system message the chat reads back as a branch diff; nothing when no file changed', async () => {
    const records: Record[] = [];
    const append = async (r: Record) => void records.push(r);
    const common = {
      baseRef: 'origin/main',
      baseName: 'main',
      sessionId: 'sess-1',
      messageId: 'branch-diff-w1',
      append,
    };
    expect(await shareBranchDiff({ dir, ...common })).toMatchObject({ totalFiles: 0 });
    expect(records).toEqual([]);
    await commitAgentWork();
    await shareBranchDiff({ dir, ...common });
    expect(records).toHaveLength(1);
    const record = MessageRecord.parse(records[0]);
    expect(record).toMatchObject({ role: 'system', messageId: 'branch-diff-w1', sessionId: 'sess-1' });
    expect(record.content).toBe(`Changes on ${BRANCH} against main: 3 files, +3 −0`);
    expect(branchDiffOf({ role: 'system', metadata: record.metadata })?.files).toHaveLength(3);
    // A failure (no such base) is logged, never thrown.
    const logs: string[] = [];
    expect(await shareBranchDiff({ dir, ...common, baseRef: 'origin/nope', log: (l) => logs.push(l) })).toBeNull();
    expect(logs.join('\n')).toMatch(/could not share the branch diff/);
  });
});
