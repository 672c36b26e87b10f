/**
 * Which repositories a machine may clone, and the protocols git itself may speak. The machine's
 * provider decides (locally: `local-machines/host.ts` writes it into bootstrap.json `git`); a
 * machine told nothing speaks https only. Checked twice: here before git runs (a clear error for
 * the chat), and by git on every invocation through `protocol.*.allow` pinned in its environment
 * (see {@link protocolConfig}), so no remote, redirect, submodule or user config can widen it.
 */
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

export const GIT_PROTOCOLS = ['https', 'http', 'ssh', 'git', 'file'] as const;
export type GitProtocol = (typeof GIT_PROTOCOLS)[number];

export const RepositoryPolicy = z
  .object({
    /** The protocols a repository URL may use; `file` covers local paths and file:// URLs. */
    protocols: z.array(z.enum(GIT_PROTOCOLS)).min(1),
    /** Absolute directories a `file` repository must lie in (after resolving symlinks). */
    localRoots: z.array(z.string().startsWith('/')).default([]),
  })
  .strict();
export type RepositoryPolicy = z.infer<typeof RepositoryPolicy>;

/** What a machine may clone when its provider said nothing: https only. */
export const HTTPS_ONLY: RepositoryPolicy = { protocols: ['https'], localRoots: [] };

export class RepositoryNotAllowedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RepositoryNotAllowedError';
  }
}

/**
 * `protocol.allow=never` plus an explicit `protocol.<name>.allow` for every protocol git knows
 * (`always` when allowed, else `never`): a per-protocol setting in some config file would win over
 * the general one, so each is pinned. As `GIT_CONFIG_*` variables (command-line scope), not argv.
 */
export function protocolConfig(protocols: readonly GitProtocol[]): Record<string, string> {
  const entries: [string, string][] = [['protocol.allow', 'never']];
  for (const name of [...GIT_PROTOCOLS, 'ext', 'fd']) {
    entries.push([`protocol.${name}.allow`, (protocols as readonly string[]).includes(name) ? 'always' : 'never']);
  }
  const env: Record<string, string> = { GIT_CONFIG_COUNT: String(entries.length) };
  entries.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

export type RepositoryLocation = { protocol: string; localPath?: string };

/** The protocol a repository address uses, as git would read it. */
export function repositoryLocation(url: string): RepositoryLocation {
  const helper = /^([A-Za-z][A-Za-z0-9+.-]*)::/.exec(url);
  if (helper) return { protocol: helper[1]!.toLowerCase() };
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (scheme) {
    const protocol = scheme[1]!.toLowerCase();
    if (protocol === 'file') {
      let localPath: string;
      try {
        localPath = decodeURIComponent(new URL(url).pathname);
      } catch {
        throw new RepositoryNotAllowedError(`the repository address ${JSON.stringify(url)} is not a valid file URL`);
      }
      return { protocol, localPath };
    }
    return { protocol: protocol === 'git+ssh' || protocol === 'ssh+git' ? 'ssh' : protocol };
  }
  if (path.isAbsolute(url)) return { protocol: 'file', localPath: url };
  // scp-like `host:path` (git treats a colon before any slash as ssh).
  const colon = url.indexOf(':');
  const slash = url.indexOf('/');
  if (colon > 0 && (slash === -1 || colon < slash)) return { protocol: 'ssh' };
  return { protocol: 'relative' };
}

function within(dir: string, root: string): boolean {
  const rel = path.relative(root, dir);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** Throws a {@link RepositoryNotAllowedError} saying why, unless `url` may be cloned under `policy`. */
export function assertRepositoryAllowed(url: string, policy: RepositoryPolicy): void {
  const where = repositoryLocation(url);
  const allowed = policy.protocols.join(', ');
  if (where.protocol === 'relative') {
    throw new RepositoryNotAllowedError(
      `the repository ${JSON.stringify(url)} is neither a URL nor an absolute path (this machine allows: ${allowed})`,
    );
  }
  if (!(policy.protocols as string[]).includes(where.protocol)) {
    throw new RepositoryNotAllowedError(
      `the repository ${JSON.stringify(url)} uses the ${where.protocol} protocol, which this machine does not allow ` +
        `(allowed: ${allowed})`,
    );
  }
  if (where.localPath !== undefined) {
    const dir = real(where.localPath);
    if (!policy.localRoots.some((root) => within(dir, real(root)))) {
      const roots = policy.localRoots.length > 0 ? policy.localRoots.join(', ') : 'none';
      throw new RepositoryNotAllowedError(
        `the repository ${where.localPath} is outside the directories local repositories may come from (${roots}); ` +
          'set SAM_LOCAL_REPO_ROOTS to allow it',
      );
    }
  }
}
