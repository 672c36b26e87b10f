/**
 * A workspace's repository, made ready for its agent: a fresh clone (through git's credential
 * helper for an http(s) repository, so tokens never land in `.git/config`), the task branch checked
 * out, and what the chat should hear about it (a base branch that was never pushed; a `full`
 * profile that runs lightweight here).
 */
import { rm } from 'node:fs/promises';
import type { CreateWorkspacePayload } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { type CredentialSource, type GitCredentialHelper, startCredentialHelper } from '../git/credential-server.ts';
import type { RepositoryPolicy } from '../git/policy.ts';
import { checkoutTaskBranch, cloneRepository } from '../git/workspace.ts';

export interface Checkout {
  /** git's helper for the workspace's later fetches and pushes; null for a repository without http(s). */
  credentialHelper: GitCredentialHelper | null;
  /** For the chat: the task's base branch was never pushed, so the branch starts elsewhere. */
  baseNote: string | null;
}

export async function checkOutRepository(options: {
  payload: CreateWorkspacePayload;
  repoDir: string;
  policy?: RepositoryPolicy;
  /** The control plane's answer to git's question (the task's own repository only). */
  gitToken: CredentialSource;
  log: (line: string) => void;
}): Promise<Checkout> {
  const { payload, repoDir, policy, log } = options;
  await rm(repoDir, { recursive: true, force: true });
  log(`cloning ${payload.repository}`);
  // Any http(s) repository: a linked GitHub one gets installation tokens, another host its deploy
  // credential; a public one needs none (git asks the helper only when the server wants credentials).
  const credentialHelper = /^https?:\/\//i.test(payload.repository)
    ? await startCredentialHelper(options.gitToken)
    : null;
  try {
    await cloneRepository({ url: payload.repository, dir: repoDir, credentialHelper, log, policy });
    const checkout = await checkoutTaskBranch(repoDir, payload.branch, { baseBranch: payload.baseBranch, log, policy });
    const baseNote = checkout.missingBase
      ? `The branch ${checkout.missingBase} this task starts from was never pushed, so ${checkout.branchName} starts from ${checkout.baseBranch}.`
      : null;
    return { credentialHelper, baseNote };
  } catch (e) {
    await credentialHelper?.close().catch(() => {});
    throw e;
  }
}

/** Only lightweight workspaces exist here; a `full` request says why it runs lightweight. */
export async function profileNotice(
  payload: CreateWorkspacePayload,
  dockerAvailable: () => Promise<boolean>,
  log: (line: string) => void,
): Promise<string | null> {
  if (payload.workspaceProfile === 'lightweight' || payload.lightweight) return null;
  const docker = await dockerAvailable();
  log(`full profile requested; running lightweight (${docker ? 'no devcontainer support' : 'no Docker'})`);
  const why = docker ? 'This machine does not build devcontainers yet' : 'This machine has no Docker';
  return `${why}, so the workspace runs lightweight (no devcontainer) instead of the full profile.`;
}
