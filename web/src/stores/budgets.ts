import { createStore } from 'solid-js/store';
import * as api from '../lib/supabase/index.ts';
import type { BudgetDefaults } from '../lib/supabase/index.ts';

interface BudgetsState {
  projectId: string | null;
  defaults: BudgetDefaults | null;
  error: string | null;
}

const [budgets, setState] = createStore<BudgetsState>({ projectId: null, defaults: null, error: null });

export { budgets };

/** The project's budget defaults (read once per project). */
export async function loadBudgetDefaults(projectId: string): Promise<void> {
  setState({ projectId, defaults: null, error: null });
  try {
    const defaults = await api.getBudgetDefaults(projectId);
    if (budgets.projectId === projectId) setState({ defaults });
  } catch (e) {
    if (budgets.projectId === projectId) setState({ error: e instanceof Error ? e.message : String(e) });
  }
}

export async function saveBudgetDefaults(projectId: string, defaults: BudgetDefaults): Promise<void> {
  await api.saveBudgetDefaults(projectId, defaults);
  if (budgets.projectId === projectId) setState({ defaults: { ...defaults } });
}
