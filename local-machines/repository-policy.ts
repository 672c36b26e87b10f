/**
 * Which repositories local machines may clone: the host's setting, read from its environment. The
 * host writes it into each machine's bootstrap.json `git` (host.ts) and the machine enforces it
 * before it clones (vm-agent/git/policy.ts).
 */
import { homedir, tmpdir } from 'node:os';
import { delimiter, isAbsolute } from 'node:path';
import { GIT_PROTOCOLS, RepositoryPolicy, type GitProtocol } from '../vm-agent/git/policy.ts';

/**
 * What local machines may clone, from the host's environment: `SAM_LOCAL_REPO_ROOTS` (absolute
 * directories separated by `:`; default the home of the user running the host and the system temp
 * dir) for local repositories, and `SAM_LOCAL_REPO_PROTOCOLS` (comma-separated; default
 * `https,file`; add `ssh` to allow it — machines have no keys of the host's).
 */
export function localRepositoryPolicy(env: NodeJS.ProcessEnv = process.env): RepositoryPolicy {
  const roots = (env.SAM_LOCAL_REPO_ROOTS ?? '')
    .split(delimiter)
    .map((r) => r.trim())
    .filter(Boolean);
  const bad = roots.filter((r) => !isAbsolute(r));
  if (bad.length > 0) throw new Error(`SAM_LOCAL_REPO_ROOTS: not absolute directories: ${bad.join(', ')}`);
  const protocols = (env.SAM_LOCAL_REPO_PROTOCOLS ?? 'https,file')
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  const unknown = protocols.filter((p) => !(GIT_PROTOCOLS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    throw new Error(`SAM_LOCAL_REPO_PROTOCOLS: unknown ${unknown.join(', ')} (known: ${GIT_PROTOCOLS.join(', ')})`);
  }
  return RepositoryPolicy.parse({
    protocols: protocols as GitProtocol[],
    localRoots: roots.length > 0 ? roots : [homedir(), tmpdir()],
  });
}
