/**
 * Permission mode `ask`: an agent's `session/request_permission` becomes a card in the chat and
 * waits for the user's answer, which arrives as a `permission_answer` command (node-agent.ts →
 * WorkspaceRunner → {@link PermissionBroker.answer}). "Always" is remembered by the control plane
 * (request_agent_permission) per kind of tool call (its ACP `kind`, else its title) for the task and
 * its retries: every request is still sent, and one of a kind allowed "always" comes back allowed at
 * once (`decision`), with no card, here or after a restart or in another workspace of the task.
 * The agent itself is only ever given its one-time "allow" option, so it keeps asking and the
 * control plane stays the only memory: an "always" the owner revokes ends at the next request
 * (an agent told "allow always" would stop asking for the rest of its session).
 * Without an answer by the request's expiry the broker closes it as `timed_out` and refuses;
 * a turn that ends first closes the requests still waiting as `cancelled`. A request that cannot
 * even be put to the user is refused.
 */
import type { RequestPermissionRequest } from '@agentclientprotocol/sdk';
import type {
  PermissionAnswerPayload,
  PermissionClosing,
  PermissionRequestBody,
  PermissionRequestResponse,
} from '../../functions/_shared/common/contracts/cards.ts';
import type { PermissionDecision } from '../acp/permissions.ts';

export type PermissionBrokerOptions = {
  ask: (body: PermissionRequestBody) => Promise<PermissionRequestResponse>;
  close: (requestId: string, outcome: PermissionClosing) => Promise<unknown>;
  /** Removes the secrets a request's detail may carry. */
  scrub: (text: string) => string;
  log: (line: string) => void;
  now?: () => number;
};

type Waiting = { resolve: (decision: PermissionDecision) => void; timer: NodeJS.Timeout };

/** How much of a tool call's input the card shows. */
const DETAIL_CHARS = 1500;

/** What a tool call wants, in a few lines: the places it touches and its input. */
export function describeToolCall(request: RequestPermissionRequest): string {
  const call = request.toolCall;
  const lines: string[] = [];
  for (const loc of call.locations ?? []) lines.push(loc.path);
  if (call.rawInput !== undefined) {
    const input = typeof call.rawInput === 'string' ? call.rawInput : JSON.stringify(call.rawInput);
    if (input && input !== '{}') lines.push(input);
  }
  return lines.join('\n').slice(0, DETAIL_CHARS);
}

export class PermissionBroker {
  private readonly waiting = new Map<string, Waiting>();
  /** Answers that came before their request was known here (the command raced the request's answer). */
  private readonly early = new Map<string, PermissionAnswerPayload['decision']>();

  constructor(private readonly options: PermissionBrokerOptions) {}

  /** The policy function for the ACP client. */
  readonly decide = async (request: RequestPermissionRequest): Promise<PermissionDecision> => {
    const call = request.toolCall;
    const title = (call.title ?? `Use a ${call.kind ?? ''} tool`.replace('  ', ' ')).slice(0, 500);
    let asked: PermissionRequestResponse;
    try {
      asked = await this.options.ask({
        ...(call.toolCallId ? { toolCallId: call.toolCallId.slice(0, 200) } : {}),
        title: this.options.scrub(title) || 'Use a tool',
        ...(call.kind ? { toolKind: call.kind.slice(0, 32) } : {}),
        detail: this.options.scrub(describeToolCall(request)).slice(0, 2000),
      });
    } catch (error) {
      this.options.log(`could not ask the user for permission (${String(error)}); refusing`);
      return 'reject';
    }
    const { requestId } = asked;
    // Allowed "always" earlier in the task: no card, no wait.
    if (asked.decision === 'allow_always') return 'approve';
    return new Promise<PermissionDecision>((resolve) => {
      const now = this.options.now?.() ?? Date.now();
      const ms = Math.max(0, Date.parse(asked.expiresAt) - now);
      const timer = setTimeout(() => this.finish(requestId, 'timed_out'), ms);
      timer.unref?.();
      this.waiting.set(requestId, { resolve, timer });
      const early = this.early.get(requestId);
      if (early) {
        this.early.delete(requestId);
        this.answer(requestId, early);
      }
    });
  };

  /** The user's answer (or the control plane's closing); false when no request waits for it. */
  answer(requestId: string, decision: PermissionAnswerPayload['decision']): boolean {
    const waiting = this.waiting.get(requestId);
    if (!waiting) {
      if (this.early.size < 100) this.early.set(requestId, decision);
      return false;
    }
    this.waiting.delete(requestId);
    clearTimeout(waiting.timer);
    // "Always" is the control plane's to remember (see above): the agent gets the one-time option.
    waiting.resolve(
      decision === 'allow_once' || decision === 'allow_always'
        ? 'approve'
        : decision === 'cancelled'
          ? 'cancelled'
          : 'reject',
    );
    return true;
  }

  /** Every waiting request ends as cancelled (the turn is over). */
  cancelAll(): void {
    for (const id of [...this.waiting.keys()]) this.finish(id, 'cancelled');
  }

  get pending(): number {
    return this.waiting.size;
  }

  private finish(requestId: string, outcome: PermissionClosing): void {
    if (!this.waiting.has(requestId)) return;
    this.options.log(`permission request ${requestId} ${outcome.replace('_', ' ')}`);
    void this.options.close(requestId, outcome).catch((e: unknown) => {
      this.options.log(`could not close permission request ${requestId}: ${String(e)}`);
    });
    this.answer(requestId, outcome === 'timed_out' ? 'reject' : 'cancelled');
  }
}
