/**
 * The end of a task-mode workspace's work on its branch: leftover changes committed and pushed
 * (completeWork), and the branch's files and hunks shared in the chat, with every error and diff
 * scrubbed of the workspace's secrets before it leaves the machine.
 */
import path from 'node:path';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import type { CreateWorkspacePayload } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { shareBranchDiff } from '../git/branch-diff.ts';
import { completeWork } from '../git/complete.ts';
import type { GitCredentialHelper } from '../git/credential-server.ts';
import type { RepositoryPolicy } from '../git/policy.ts';

export async function wrapUpBranch(options: {
  workspaceId: string;
  workspaceDir: string;
  payload: CreateWorkspacePayload;
  agentSessionId: string;
  policy?: RepositoryPolicy;
  credentialHelper: GitCredentialHelper | null;
  scrub: (text: string) => string;
  append: (record: MessageRecord) => Promise<void>;
  log: (line: string) => void;
}) {
  const { payload, policy, log } = options;
  const dir = path.join(options.workspaceDir, 'repo');
  const result = await completeWork({
    dir,
    defaultBranch: payload.defaultBranch,
    log,
    policy,
    credentialHelper: options.credentialHelper,
  });
  // The agent's changes into the chat, as files and hunks of the branch (before the completion).
  await shareBranchDiff({
    dir,
    baseRef: `origin/${payload.baseBranch}`,
    baseName: payload.baseBranch,
    policy,
    sessionId: options.agentSessionId,
    messageId: `branch-diff-${options.workspaceId}`,
    redact: options.scrub,
    append: options.append,
    log,
  });
  const gitPushResult = { ...result, error: result.error && options.scrub(result.error).slice(0, 4000) };
  log(result.pushed ? `pushed ${result.branchName} at ${result.commitSha}` : `not pushed: ${gitPushResult.error}`);
  return gitPushResult;
}
