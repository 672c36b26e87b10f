import { describe, expect, it } from 'vitest';
import { isActivePhase, isTerminalPhase, takesPrompts, WORKSPACE_PHASES } from './workspace-phases.ts';

describe('workspace phases', () => {
  it('splits the one vocabulary into terminal, active and prompt-taking phases', () => {
    expect(WORKSPACE_PHASES.filter(isTerminalPhase)).toEqual(['stopped', 'failed']);
    expect(WORKSPACE_PHASES.filter(isActivePhase)).toEqual(['preparing', 'idle', 'prompting', 'finishing', 'stopping']);
    expect(WORKSPACE_PHASES.filter(takesPrompts)).toEqual(['preparing', 'idle', 'prompting']);
    expect(WORKSPACE_PHASES.filter((p) => takesPrompts(p) && isTerminalPhase(p))).toEqual([]);
  });
});
