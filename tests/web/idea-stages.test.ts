import { describe, expect, it } from 'vitest';
import { canEdit, canExecute, movesFrom, stageOf } from '../../web/src/lib/ideas.ts';
import type { TaskStatus } from '../../web/src/lib/types.ts';

/** The board's columns and moves without a browser (move_idea's guard is in supabase/tests/140_ideas_board.sql). */
const ALL: TaskStatus[] = ['draft', 'ready', 'queued', 'delegated', 'in_progress', 'completed', 'failed', 'cancelled'];

describe('idea stages', () => {
  it('map every task status to one of the five columns, as idea_stage does', () => {
    expect(Object.fromEntries(ALL.map((s) => [s, stageOf(s)]))).toEqual({
      draft: 'exploring',
      ready: 'ready',
      queued: 'executing',
      delegated: 'executing',
      in_progress: 'executing',
      completed: 'done',
      failed: 'parked',
      cancelled: 'parked',
    });
  });

  it('offer only moves to another column, none while the idea runs or once it is done', () => {
    for (const status of ALL) {
      for (const sessionId of [null, 'a-session']) {
        expect(movesFrom({ status, sessionId })).not.toContain(stageOf(status));
      }
    }
    expect(movesFrom({ status: 'in_progress', sessionId: 's' })).toEqual([]);
    expect(movesFrom({ status: 'completed', sessionId: 's' })).toEqual([]);
  });

  it('let a parked idea back to exploring only if it never ran', () => {
    expect(movesFrom({ status: 'cancelled', sessionId: null })).toEqual(['exploring', 'ready']);
    expect(movesFrom({ status: 'cancelled', sessionId: 's' })).toEqual(['ready']);
  });

  it('execute and edit only an idea that waits', () => {
    expect(ALL.filter((status) => canExecute({ status, sessionId: null }))).toEqual(['draft', 'ready']);
    expect(ALL.filter((status) => canEdit({ status, sessionId: null }))).toEqual(['draft', 'ready']);
  });
});
