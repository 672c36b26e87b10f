import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../functions/_shared/common/contracts/messages.ts';
import {
  cardOf,
  durationWords,
  limitsFromForm,
  outcomeOf,
  revocable,
  suggestedLimits,
  waitingCard,
} from '../../web/src/lib/cards.ts';

/** The chat's cards without a browser: which messages are cards, their outcome, the budget form. */
let id = 0;
function msg(patch: Partial<ChatMessage>): ChatMessage {
  id++;
  return {
    id,
    messageId: `m-${id}`,
    role: 'system',
    content: '',
    toolCallId: null,
    toolStatus: null,
    metadata: null,
    origin: 'sam',
    producedAt: null,
    createdAt: '2026-01-01T00:00:01.000Z',
    ...patch,
  };
}

const RID = '9a39695f-b5a1-4e87-9719-94d0fb3e8e86';
const TASK = '7a3d7dae-0c28-4cfb-be9e-3e754d6e2290';
const budget = {
  kind: 'budget_reached',
  taskId: TASK,
  state: 'paused',
  paused: true,
  reason: 'the budget of 2 agent turns is used',
  pause: 1,
  limits: { turns: 2, wallMs: null, tokens: 1000 },
  used: { turns: 2, wallMs: 61_000, tokens: 400 },
  wallMsLeft: null,
};

describe('chat cards', () => {
  it('knows a card by its metadata, and an agent’s look-alike without the right shape is a plain line', () => {
    const permission = msg({
      messageId: `permission:${RID}`,
      metadata: {
        kind: 'permission_request',
        permissionRequestId: RID,
        title: 'Edit',
        expiresAt: '2026-01-01T00:10:00Z',
      },
    });
    expect(cardOf(permission)?.kind).toBe('permission');
    expect(cardOf(msg({ metadata: budget }))?.kind).toBe('budget');
    expect(cardOf(msg({ metadata: { kind: 'permission_request', permissionRequestId: 'not-a-uuid' } }))).toBeNull();
    expect(cardOf(msg({ role: 'assistant', metadata: budget }))).toBeNull();
  });

  it('says what the task waits for until the card has its outcome', () => {
    const card = msg({ messageId: `budget:${TASK}:1`, metadata: budget });
    expect(waitingCard([card])).toBe('Paused at its budget: waiting for you');
    expect(
      waitingCard([card, msg({ messageId: `budget:${TASK}:1:outcome`, content: 'Continued with new limits.' })]),
    ).toBeNull();
  });

  it('offers to revoke an "always" until the revoked line comes, which is then the card’s outcome', () => {
    const card = msg({
      messageId: `permission:${RID}`,
      metadata: {
        kind: 'permission_request',
        permissionRequestId: RID,
        title: 'Edit',
        expiresAt: '2026-01-01T00:10:00Z',
      },
    });
    const outcome = (result: string) =>
      msg({
        messageId: `permission:${RID}:outcome`,
        content: `${result}: Edit`,
        metadata: { kind: 'permission_outcome', permissionRequestId: RID, outcome: result },
      });
    const always = outcome('allowed_always');
    expect(outcomeOf([card, always], card)).toBe(always);
    expect(revocable(always)).toBe(true);
    expect(revocable(outcome('allowed_once'))).toBe(false);
    expect(revocable(outcome('rejected'))).toBe(false);
    expect(revocable(undefined)).toBe(false);
    // An agent's look-alike (not a system line) offers nothing.
    expect(revocable({ ...always, role: 'assistant' })).toBe(false);

    const revoked = msg({
      messageId: `permission:${RID}:revoked`,
      content: 'No longer always allowed: Edit (the agent will ask again)',
      metadata: { kind: 'permission_revoked', permissionRequestId: RID, outcome: 'revoked' },
    });
    // The revoked line wins whichever order the lines are in.
    expect(outcomeOf([card, always, revoked], card)).toBe(revoked);
    expect(outcomeOf([card, revoked, always], card)).toBe(revoked);
    expect(revocable(revoked)).toBe(false);
    expect(waitingCard([card, always, revoked])).toBeNull();
  });

  it('suggests doubled limits and reads the form (minutes, empty = no limit) or says what is wrong', () => {
    expect(suggestedLimits(budget as never)).toEqual({ turns: 4, wallMs: null, tokens: 2000 });
    expect(limitsFromForm({ turns: '5', minutes: '1.5', tokens: '' })).toEqual({
      turns: 5,
      wallMs: 90_000,
      tokens: null,
    });
    expect(limitsFromForm({ turns: 'many', minutes: '', tokens: '' })).toBe(
      'The turn limit is a number above 0, or empty for no limit.',
    );
    expect(durationWords(61_000)).toBe('1 min 1 s');
    expect(durationWords(3_600_000)).toBe('1 h');
  });
});
