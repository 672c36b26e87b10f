import {
  BudgetCard,
  PermissionCard,
  PermissionOutcome,
  type BudgetLimits,
} from '../../../functions/_shared/common/contracts/cards.ts';
import { answerMessageId, QuestionCard } from '../../../functions/_shared/common/contracts/questions.ts';
import type { Message } from './types.ts';

export type CardView =
  | { kind: 'permission'; card: PermissionCard }
  | { kind: 'budget'; card: BudgetCard }
  | { kind: 'question'; card: QuestionCard };

/** The card a message carries (a `system` message whose metadata is a card), or null. */
export function cardOf(m: Message): CardView | null {
  if (m.role !== 'system' || !m.metadata) return null;
  const permission = PermissionCard.safeParse(m.metadata);
  if (permission.success) return { kind: 'permission', card: permission.data };
  const budget = BudgetCard.safeParse(m.metadata);
  if (budget.success) return { kind: 'budget', card: budget.data };
  const question = m.messageId.startsWith('question:') ? QuestionCard.safeParse(m.metadata) : null;
  if (question?.success) return { kind: 'question', card: question.data };
  return null;
}

/**
 * The outcome line of a card (SAM writes it as `<card's message id>:outcome`), if there is one yet;
 * a permission card whose "always" was revoked has the revoked line (`…:revoked`) as its outcome.
 */
export function outcomeOf(messages: readonly Message[], card: Message): Message | undefined {
  const id = `${card.messageId}:outcome`;
  const revoked = `${card.messageId}:revoked`;
  let outcome: Message | undefined;
  for (const m of messages) {
    if (m.messageId === revoked) return m;
    if (m.messageId === id) outcome = m;
  }
  return outcome;
}

/** True when a permission card's outcome is a standing "always" the owner may still revoke. */
export function revocable(outcome: Message | undefined): boolean {
  if (!outcome || outcome.role !== 'system') return false;
  const parsed = PermissionOutcome.safeParse(outcome.metadata);
  return parsed.success && parsed.data.kind === 'permission_outcome' && parsed.data.outcome === 'allowed_always';
}

/** Agent time in words: 90000 → "1 min 30 s". */
export function durationWords(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/** What the budget card's form suggests: each limit that was reached, doubled (at least one more). */
export function suggestedLimits(card: BudgetCard): BudgetLimits {
  const more = (limit: number | null, used: number) => (limit === null ? null : Math.max(limit * 2, used + 1));
  return {
    turns: more(card.limits.turns, card.used.turns),
    wallMs: more(card.limits.wallMs, card.used.wallMs),
    tokens: more(card.limits.tokens, card.used.tokens),
  };
}

/** The form's fields (turns, minutes, tokens; empty = no limit) as limits; a word when one is not a number. */
export function limitsFromForm(fields: { turns: string; minutes: string; tokens: string }): BudgetLimits | string {
  const read = (text: string, what: string, scale = 1): number | null | string => {
    const t = text.trim();
    if (t === '') return null;
    const n = Number(t);
    if (!Number.isFinite(n) || n <= 0) return `${what} is a number above 0, or empty for no limit.`;
    return Math.round(n * scale);
  };
  const turns = read(fields.turns, 'The turn limit');
  const wallMs = read(fields.minutes, 'The time limit', 60_000);
  const tokens = read(fields.tokens, 'The token limit');
  for (const v of [turns, wallMs, tokens]) if (typeof v === 'string') return v;
  return { turns: turns as number | null, wallMs: wallMs as number | null, tokens: tokens as number | null };
}

/** What the task waits for while a card is unanswered, in words (the newest such card); else null. */
export function waitingCard(messages: readonly Message[]): string | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    const view = cardOf(m);
    if (!view || outcomeOf(messages, m)) continue;
    if (view.kind === 'question') {
      const answer = answerMessageId(view.card.humanInputRequestId);
      if (messages.some((a) => a.messageId === answer)) continue;
      return 'The agent asks you a question';
    }
    return view.kind === 'budget' ? 'Paused at its budget: waiting for you' : 'Waiting for your permission';
  }
  return null;
}
