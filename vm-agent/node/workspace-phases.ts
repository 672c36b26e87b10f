/**
 * The phases of a workspace on this machine, one vocabulary with its predicates (as the SQL enums
 * have `is_terminal()` & co.):
 *
 *   preparing → idle ⇄ prompting → finishing (task mode) → stopped
 *                                 ↘ stopping (a stop was asked) → stopped | failed
 *   any → failed
 */
export const WORKSPACE_PHASES = [
  'preparing',
  'idle',
  'prompting',
  'finishing',
  'stopping',
  'stopped',
  'failed',
] as const;
export type WorkspacePhase = (typeof WORKSPACE_PHASES)[number];

const TERMINAL: readonly WorkspacePhase[] = ['stopped', 'failed'];
const TAKES_PROMPTS: readonly WorkspacePhase[] = ['preparing', 'idle', 'prompting'];

/** Nothing more happens in the workspace. */
export function isTerminalPhase(phase: WorkspacePhase): boolean {
  return TERMINAL.includes(phase);
}

/** The workspace still runs here (reported as active to the control plane). */
export function isActivePhase(phase: WorkspacePhase): boolean {
  return !isTerminalPhase(phase);
}

/** The agent is (being) started and not on its way out: prompts can be queued. */
export function takesPrompts(phase: WorkspacePhase): boolean {
  return TAKES_PROMPTS.includes(phase);
}
