/**
 * Answers `session/request_permission`. A policy decides per request: `approve` (a one-time
 * approval preferred), `approve_always` (the "always" option preferred), `reject`, or `cancelled`
 * (the turn ended while the request waited: ACP's `cancelled` outcome). A fixed policy answers
 * every request the same way.
 */
import type { PermissionOption, RequestPermissionRequest, RequestPermissionResponse } from '@agentclientprotocol/sdk';

export type PermissionDecision = 'approve' | 'approve_always' | 'reject' | 'cancelled';

export type PermissionPolicy =
  'approve' | 'reject' | ((request: RequestPermissionRequest) => PermissionDecision | Promise<PermissionDecision>);

function pick(options: PermissionOption[], kinds: PermissionOption['kind'][]): PermissionOption | undefined {
  for (const kind of kinds) {
    const option = options.find((o) => o.kind === kind);
    if (option) return option;
  }
  return undefined;
}

const PREFERRED: Record<Exclude<PermissionDecision, 'cancelled'>, PermissionOption['kind'][]> = {
  approve: ['allow_once', 'allow_always'],
  approve_always: ['allow_always', 'allow_once'],
  reject: ['reject_once', 'reject_always'],
};

export async function answerPermission(
  policy: PermissionPolicy,
  request: RequestPermissionRequest,
): Promise<RequestPermissionResponse> {
  const decision = typeof policy === 'function' ? await policy(request) : policy;
  if (decision === 'cancelled') return { outcome: { outcome: 'cancelled' } };
  const option = pick(request.options, PREFERRED[decision]);
  // No matching option: the only honest answer left is to not choose.
  if (!option) return { outcome: { outcome: 'cancelled' } };
  return { outcome: { outcome: 'selected', optionId: option.optionId } };
}
