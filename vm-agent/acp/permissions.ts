/**
 * Answers `session/request_permission`. SAM runs agents unattended, so the default policy approves
 * (preferring a one-time approval); `reject` denies everything; a function decides per request.
 */
import type { PermissionOption, RequestPermissionRequest, RequestPermissionResponse } from '@agentclientprotocol/sdk';

export type PermissionPolicy =
  'approve' | 'reject' | ((request: RequestPermissionRequest) => 'approve' | 'reject' | Promise<'approve' | 'reject'>);

function pick(options: PermissionOption[], kinds: PermissionOption['kind'][]): PermissionOption | undefined {
  for (const kind of kinds) {
    const option = options.find((o) => o.kind === kind);
    if (option) return option;
  }
  return undefined;
}

export async function answerPermission(
  policy: PermissionPolicy,
  request: RequestPermissionRequest,
): Promise<RequestPermissionResponse> {
  const decision = typeof policy === 'function' ? await policy(request) : policy;
  const option =
    decision === 'approve'
      ? pick(request.options, ['allow_once', 'allow_always'])
      : pick(request.options, ['reject_once', 'reject_always']);
  // No matching option: the only honest answer left is to not choose.
  if (!option) return { outcome: { outcome: 'cancelled' } };
  return { outcome: { outcome: 'selected', optionId: option.optionId } };
}
