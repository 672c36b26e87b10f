import { createResource, createSignal, For, Match, onCleanup, Show, Switch } from 'solid-js';
import {
  answerMessageId,
  expiredMessageId,
  type QuestionCard as QuestionCardData,
} from '../../../functions/_shared/common/contracts/questions.ts';
import * as api from '../lib/supabase/index.ts';
import type { Message } from '../lib/types.ts';
import { chat } from '../stores/chat.ts';

/**
 * An agent's question (request_human_input): its choices as buttons and a free-text answer. Once
 * answered it shows the answer (the user line `answer:<id>`); a question nobody answered in time
 * says it expired (the sweep's line `question:<id>:outcome`, the question's row, or its expiry passing).
 */
export function QuestionCard(props: { message: Message; card: QuestionCardData }) {
  const id = () => props.card.humanInputRequestId;
  const [row] = createResource(id, (requestId) => api.fetchQuestion(requestId).catch(() => null));
  const [text, setText] = createSignal('');
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);

  // The expiry passing while the card is on screen turns it into "expired" without a reload.
  const expiresAt = () => row()?.expiresAt ?? props.card.expiresAt;
  const [lapsed, setLapsed] = createSignal(false);
  const timer = setInterval(() => {
    const at = expiresAt();
    if (at && Date.parse(at) <= Date.now()) setLapsed(true);
  }, 1000);
  onCleanup(() => clearInterval(timer));

  const answered = () => {
    const line = chat.messages.find((m) => m.messageId === answerMessageId(id()));
    if (line) return line.content;
    return row()?.status === 'answered' ? (row()!.answer ?? '') : null;
  };
  const state = (): 'answered' | 'expired' | 'cancelled' | 'pending' => {
    if (answered() !== null) return 'answered';
    if (chat.messages.some((m) => m.messageId === expiredMessageId(id())) || row()?.status === 'expired')
      return 'expired';
    if (row()?.status === 'cancelled') return 'cancelled';
    return lapsed() ? 'expired' : 'pending';
  };

  const send = async (answer: string) => {
    if (!answer.trim()) return setError('Type an answer, or pick one of the choices.');
    setBusy(true);
    setError(null);
    try {
      await api.answerQuestion(id(), answer);
      setText('');
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  const inputId = () => `question-${props.message.id}-answer`;

  return (
    <div class="card chat-card" data-testid="question-card" data-state={state()}>
      <strong>The agent asks: {props.message.content}</strong>
      <Switch>
        <Match when={state() === 'answered'}>
          <p class="card-outcome" data-testid="card-outcome">
            You answered: {answered()}
          </p>
        </Match>
        <Match when={state() === 'expired'}>
          <p class="card-outcome" data-testid="card-outcome">
            Nobody answered in time: the question expired.
          </p>
        </Match>
        <Match when={state() === 'cancelled'}>
          <p class="card-outcome" data-testid="card-outcome">
            The question was withdrawn.
          </p>
        </Match>
        <Match when={state() === 'pending'}>
          <Show when={(props.card.options ?? []).length > 0}>
            <div class="question-choices" role="group" aria-label="Choices">
              <For each={props.card.options ?? []}>
                {(choice) => (
                  <button type="button" disabled={busy()} onClick={() => void send(choice)}>
                    {choice}
                  </button>
                )}
              </For>
            </div>
          </Show>
          <form
            class="card-form"
            onSubmit={(e) => {
              e.preventDefault();
              void send(text());
            }}
          >
            <label for={inputId()}>
              {(props.card.options ?? []).length > 0 ? 'Or answer in words' : 'Your answer'}
            </label>
            <input id={inputId()} value={text()} onInput={(e) => setText(e.currentTarget.value)} />
            <div class="card-actions">
              <button type="submit" class="primary" disabled={busy()}>
                Answer
              </button>
            </div>
          </form>
          <Show when={expiresAt()}>
            {(at) => <p class="muted">Open until {new Date(at()).toLocaleTimeString()}.</p>}
          </Show>
        </Match>
      </Switch>
      <Show when={error()}>
        <p class="error" role="alert">
          {error()}
        </p>
      </Show>
    </div>
  );
}
