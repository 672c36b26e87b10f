/**
 * The client's `fs/read_text_file` and `fs/write_text_file`, confined to the workspace root: a
 * path must be absolute and, after resolving `..` and symlinks, lie inside the root. Anything
 * else is refused, including a symlink inside the workspace that points out of it.
 */
import { lstat, mkdir, readFile, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';

export class WorkspacePathError extends Error {
  constructor(
    readonly requested: string,
    reason: string,
  ) {
    super(`${reason}: ${requested}`);
    this.name = 'WorkspacePathError';
  }
}

function inside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

export class WorkspaceFs {
  private realRoot: Promise<string>;

  constructor(readonly root: string) {
    if (!path.isAbsolute(root)) throw new Error(`workspace root must be absolute: ${root}`);
    this.realRoot = realpath(root);
  }

  /** The real path `requested` refers to, or a {@link WorkspacePathError}. */
  async resolve(requested: string): Promise<string> {
    if (typeof requested !== 'string' || requested.includes('\0')) {
      throw new WorkspacePathError(String(requested), 'invalid path');
    }
    if (!path.isAbsolute(requested)) throw new WorkspacePathError(requested, 'path must be absolute');
    const realRoot = await this.realRoot;
    const lexical = path.resolve(requested);
    if (!inside(path.resolve(this.root), lexical) && !inside(realRoot, lexical)) {
      throw new WorkspacePathError(requested, 'path is outside the workspace');
    }
    // Resolve symlinks on the longest existing prefix; the rest does not exist yet.
    let existing = lexical;
    const rest: string[] = [];
    while (!(await exists(existing))) {
      rest.unshift(path.basename(existing));
      const parent = path.dirname(existing);
      if (parent === existing) break;
      existing = parent;
    }
    let real: string;
    try {
      real = path.join(await realpath(existing), ...rest);
    } catch {
      throw new WorkspacePathError(requested, 'path cannot be resolved');
    }
    if (!inside(realRoot, real)) throw new WorkspacePathError(requested, 'path is outside the workspace');
    return real;
  }

  /** Reads a text file; `line` is 1-based, `limit` a number of lines. */
  async readTextFile(params: { path: string; line?: number | null; limit?: number | null }): Promise<string> {
    const file = await this.resolve(params.path);
    const content = await readFile(file, 'utf8');
    if (params.line == null && params.limit == null) return content;
    const lines = content.split('\n');
    const start = Math.max(0, (params.line ?? 1) - 1);
    const end = params.limit == null ? lines.length : start + Math.max(0, params.limit);
    return lines.slice(start, end).join('\n');
  }

  /** Writes a text file, creating missing parent directories inside the workspace. */
  async writeTextFile(params: { path: string; content: string }): Promise<void> {
    const file = await this.resolve(params.path);
    await mkdir(path.dirname(file), { recursive: true });
    // Re-check after mkdir: a concurrent symlink swap must not redirect the write.
    await this.resolve(file);
    await writeFile(file, params.content, 'utf8');
  }
}
