/**
 * A task's budget as the workspace runner meets it, at turn boundaries: before every turn it asks
 * the control plane (`GET …/budget`), which pauses a budget at its limit; while paused the turn
 * waits until a `resume_agent` command (the owner continued with new limits) or a stop. During a
 * turn the agent-time budget left cuts it (`session/cancel`) at the limit; after the turn its wall
 * time and the tokens the agent reported are counted (`POST …/turns`, once per `seq`). A control
 * plane that does not know budgets (an older one) or cannot be reached for a minute does not stop
 * the agent: the turn goes on unbudgeted, and says so in the log.
 */
import type { BudgetView, TurnReport } from '../../functions/_shared/common/contracts/cards.ts';

export type TurnBudgetOptions = {
  budget: () => Promise<BudgetView>;
  recordTurn: (turn: TurnReport) => Promise<BudgetView>;
  log: (line: string) => void;
  now?: () => number;
};

export class TurnBudget {
  private seq = 0;
  private resumes = 0;
  private wake: (() => void) | null = null;
  /** Whether the budget holds the next turn back (as last seen). */
  paused = false;

  constructor(private readonly options: TurnBudgetOptions) {}

  /**
   * Before a turn: whether it may start (false once `stopping()` says so), and the agent time it
   * has (null: no limit). Waits while the budget is paused.
   */
  async beforeTurn(stopping: () => boolean): Promise<{ go: boolean; wallMsLeft: number | null }> {
    for (;;) {
      if (stopping()) return { go: false, wallMsLeft: null };
      const resumes = this.resumes;
      let view: BudgetView;
      try {
        view = await this.options.budget();
      } catch (error) {
        this.options.log(`could not read the task's budget (${String(error)}); the turn runs unbudgeted`);
        return { go: true, wallMsLeft: null };
      }
      if (!view.paused) {
        this.paused = false;
        return { go: true, wallMsLeft: view.wallMsLeft };
      }
      if (this.resumes !== resumes) continue; // resumed while the answer was on its way
      this.paused = true;
      this.options.log(`paused at the task's budget (${view.reason ?? 'limit reached'}); waiting for the owner`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** The owner continued: the waiting turn asks again (and starts). */
  resume(): boolean {
    const was = this.paused;
    this.resumes++;
    this.paused = false;
    this.poke();
    return was;
  }

  /** Wakes a waiting {@link beforeTurn} (a stop, a resume). */
  poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /**
   * Starts a turn's clock; `cancel` is called when the agent time left runs out. The returned
   * function ends the turn: it counts the turn and says whether the budget cut it.
   */
  startTurn(
    wallMsLeft: number | null,
    cancel: () => void,
  ): (tokens: number | null, stopReason?: string) => Promise<boolean> {
    const now = this.options.now ?? Date.now;
    const started = now();
    let cut = false;
    const timer =
      wallMsLeft === null
        ? null
        : setTimeout(() => {
            cut = true;
            this.options.log(`the task's agent-time budget ran out mid-turn; cancelling the turn`);
            cancel();
          }, wallMsLeft);
    return async (tokens, stopReason) => {
      if (timer) clearTimeout(timer);
      const turn: TurnReport = {
        seq: ++this.seq,
        wallMs: Math.max(0, Math.round(now() - started)),
        ...(tokens !== null ? { tokens } : {}),
        ...(stopReason ? { stopReason: stopReason.slice(0, 64) } : {}),
      };
      await this.options.recordTurn(turn).catch((error: unknown) => {
        this.options.log(`could not count turn ${turn.seq} against the budget: ${String(error)}`);
      });
      return cut;
    };
  }
}
