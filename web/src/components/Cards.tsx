import { createSignal, Match, Show, Switch, untrack } from 'solid-js';
import type {
  BudgetCard as BudgetCardData,
  PermissionCard as PermissionCardData,
  PermissionDecision,
} from '../../../functions/_shared/common/contracts/cards.ts';
import { durationWords, limitsFromForm, outcomeOf, revocable, suggestedLimits, type CardView } from '../lib/cards.ts';
import * as cards from '../stores/cards.ts';
import type { Message } from '../lib/types.ts';
import { chat } from '../stores/chat.ts';
import { QuestionCard } from './QuestionCard.tsx';

/** Runs `fn` once at a time, showing its refusal in words. */
function useAction() {
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

/**
 * An agent asks before it acts: allow once, always (this kind of request, for the rest of the task
 * and its retries: the control plane then allows it without a card) or reject; its outcome once
 * answered. An "always" can be revoked from the card: the agent's next request of the kind asks again.
 */
export function PermissionCard(props: { message: Message; card: PermissionCardData }) {
  const outcome = () => outcomeOf(chat.messages, props.message);
  const { busy, error, run } = useAction();
  const requestId = () => props.card.permissionRequestId;
  const answer = (decision: PermissionDecision) => {
    const id = requestId();
    return run(() => cards.answerPermission(id, decision));
  };
  const revoke = () => {
    const id = requestId();
    return run(() => cards.revokePermissionAlways(id));
  };
  return (
    <div class="card chat-card" data-testid="permission-card" data-state={outcome() ? 'answered' : 'pending'}>
      <strong>The agent asks to: {props.card.title}</strong>
      <Show when={props.card.detail}>
        <pre class="card-detail">{props.card.detail}</pre>
      </Show>
      <Show
        when={!outcome()}
        fallback={
          <>
            <p class="card-outcome" data-testid="card-outcome">
              {outcome()!.content}
            </p>
            <Show when={revocable(outcome())}>
              <div class="card-actions">
                <button
                  type="button"
                  data-testid="permission-revoke"
                  disabled={busy()}
                  title="Stop allowing this kind of request at once: the agent asks again next time"
                  onClick={() => void revoke()}
                >
                  Revoke
                </button>
              </div>
            </Show>
          </>
        }
      >
        <div class="card-actions">
          <button type="button" class="primary" disabled={busy()} onClick={() => void answer('allow_once')}>
            Allow once
          </button>
          <button
            type="button"
            disabled={busy()}
            title="Allow this kind of request for the rest of this task"
            onClick={() => void answer('allow_always')}
          >
            Always allow
          </button>
          <button type="button" disabled={busy()} onClick={() => void answer('reject')}>
            Reject
          </button>
        </div>
        <p class="muted">Refused if nobody answers by {new Date(props.card.expiresAt).toLocaleTimeString()}.</p>
      </Show>
      <Show when={error()}>
        <p class="error" role="alert">
          {error()}
        </p>
      </Show>
    </div>
  );
}

/** A task paused at its budget: continue with new limits, or stop it. */
export function BudgetCard(props: { message: Message; card: BudgetCardData }) {
  const outcome = () => outcomeOf(chat.messages, props.message);
  const { busy, error, run } = useAction();
  const [formError, setFormError] = createSignal<string | null>(null);
  // The form starts from the card as it arrived; later renders keep what the person typed.
  const suggested = untrack(() => suggestedLimits(props.card));
  const [turns, setTurns] = createSignal(suggested.turns?.toString() ?? '');
  const [minutes, setMinutes] = createSignal(suggested.wallMs ? String(+(suggested.wallMs / 60_000).toFixed(2)) : '');
  const [tokens, setTokens] = createSignal(suggested.tokens?.toString() ?? '');
  const used = () => props.card.used;
  const onContinue = (e: SubmitEvent) => {
    e.preventDefault();
    const limits = limitsFromForm({ turns: turns(), minutes: minutes(), tokens: tokens() });
    if (typeof limits === 'string') return setFormError(limits);
    setFormError(null);
    const taskId = props.card.taskId!;
    void run(() => cards.continueBudget(taskId, limits));
  };
  const id = (field: string) => `budget-${props.message.id}-${field}`;
  return (
    <div class="card chat-card" data-testid="budget-card" data-state={outcome() ? 'answered' : 'pending'}>
      <strong>{props.message.content}</strong>
      <p class="muted">
        Used so far: {used().turns} turn{used().turns === 1 ? '' : 's'}, {durationWords(used().wallMs)} of agent time
        {used().tokens ? `, ${used().tokens} tokens` : ''}.
      </p>
      <Show
        when={!outcome()}
        fallback={
          <p class="card-outcome" data-testid="card-outcome">
            {outcome()!.content}
          </p>
        }
      >
        <form class="card-form" onSubmit={onContinue} novalidate>
          <label for={id('turns')}>Turn limit</label>
          <input
            id={id('turns')}
            inputmode="numeric"
            value={turns()}
            onInput={(e) => setTurns(e.currentTarget.value)}
          />
          <label for={id('minutes')}>Time limit (minutes)</label>
          <input
            id={id('minutes')}
            inputmode="decimal"
            value={minutes()}
            onInput={(e) => setMinutes(e.currentTarget.value)}
          />
          <label for={id('tokens')}>Token limit</label>
          <input
            id={id('tokens')}
            inputmode="numeric"
            value={tokens()}
            onInput={(e) => setTokens(e.currentTarget.value)}
          />
          <div class="card-actions">
            <button type="submit" class="primary" disabled={busy()}>
              Continue
            </button>
            <button
              type="button"
              disabled={busy()}
              onClick={() => void run(() => cards.stopBudget(props.card.taskId!))}
            >
              Stop task
            </button>
          </div>
        </form>
      </Show>
      <Show when={formError() ?? error()}>
        <p class="error" role="alert">
          {formError() ?? error()}
        </p>
      </Show>
    </div>
  );
}

/** A card of the chat, by its kind. */
export function ChatCard(props: { message: Message; view: CardView }) {
  const permission = () => (props.view.kind === 'permission' ? props.view.card : undefined);
  const budget = () => (props.view.kind === 'budget' ? props.view.card : undefined);
  const question = () => (props.view.kind === 'question' ? props.view.card : undefined);
  return (
    <Switch>
      <Match when={permission()}>{(card) => <PermissionCard message={props.message} card={card()} />}</Match>
      <Match when={budget()}>{(card) => <BudgetCard message={props.message} card={card()} />}</Match>
      <Match when={question()}>{(card) => <QuestionCard message={props.message} card={card()} />}</Match>
    </Switch>
  );
}
