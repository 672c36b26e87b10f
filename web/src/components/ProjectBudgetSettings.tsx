import { createEffect, createMemo, createSignal, For, on, Show } from 'solid-js';
import type { BudgetDefaults } from '../lib/supabase/index.ts';
import { budgets, loadBudgetDefaults, saveBudgetDefaults } from '../stores/budgets.ts';
import { projectPanelOpen, setProjectView } from '../lib/route.ts';

const LIMITS: { key: keyof BudgetDefaults; id: string; label: string }[] = [
  { key: 'turns', id: 'budget-turns', label: 'Turn limit' },
  { key: 'wallMinutes', id: 'budget-wall', label: 'Agent time limit (minutes)' },
  { key: 'tokens', id: 'budget-tokens', label: 'Token limit' },
];

/**
 * A project's budget defaults for its new tasks: agent turns, agent time and tokens (where the
 * agent reports them). At a limit the task pauses with a card in its chat. Empty: SAM's default
 * (no limit); 0: no limit. An agent profile's own limits win over these.
 */
export function ProjectBudgetSettings(props: { projectId: string }) {
  const [values, setValues] = createSignal<Record<keyof BudgetDefaults, string>>({
    turns: '',
    wallMinutes: '',
    tokens: '',
  });
  const [busy, setBusy] = createSignal(false);
  const [note, setNote] = createSignal<string | null>(null);
  const [error, setError] = createSignal<string | null>(null);

  // Memos: the route hands a new props object on every URL change (an opened panel, a selected
  // task); only a different project, or defaults read anew, may reset what the form shows.
  const projectId = createMemo(() => props.projectId);
  const loaded = createMemo(() => (budgets.projectId === projectId() ? budgets.defaults : null));
  createEffect(on(projectId, (id) => void loadBudgetDefaults(id)));
  createEffect(
    on(loaded, (d) => {
      if (!d) return;
      const text = (n: number | null) => (n === null ? '' : String(n));
      setValues({ turns: text(d.turns), wallMinutes: text(d.wallMinutes), tokens: text(d.tokens) });
    }),
  );

  const onSave = async (e: SubmitEvent) => {
    e.preventDefault();
    setNote(null);
    setError(null);
    const parsed = {} as BudgetDefaults;
    for (const l of LIMITS) {
      const raw = values()[l.key].trim();
      if (raw !== '' && !/^\d+$/.test(raw)) {
        setError(`${l.label}: a whole number, 0 for no limit, or empty for SAM's default`);
        return;
      }
      parsed[l.key] = raw === '' ? null : Number(raw);
    }
    setBusy(true);
    try {
      await saveBudgetDefaults(projectId(), parsed);
      setNote('Saved. New tasks get these limits.');
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <details
      class="machine-settings budget-settings"
      open={projectPanelOpen('budget')}
      onToggle={(e) => {
        if (e.currentTarget.open !== projectPanelOpen('budget'))
          setProjectView({ panel: e.currentTarget.open ? 'budget' : null });
      }}
    >
      <summary>Budget defaults</summary>
      <form onSubmit={(e) => void onSave(e)}>
        <p class="muted">
          New tasks pause and ask at these limits. Empty: no limit unless SAM sets one; an agent profile's own limits
          win.
        </p>
        <For each={LIMITS}>
          {(l) => (
            <>
              <label for={l.id}>{l.label}</label>
              <input
                id={l.id}
                inputmode="numeric"
                placeholder="no limit"
                value={values()[l.key]}
                disabled={!loaded()}
                onInput={(e) => setValues({ ...values(), [l.key]: e.currentTarget.value })}
              />
            </>
          )}
        </For>
        <button type="submit" disabled={busy() || !loaded()}>
          Save budget defaults
        </button>
        <Show when={note()}>
          <p class="muted">{note()}</p>
        </Show>
        <Show when={error() ?? budgets.error}>
          <p class="error" role="alert">
            {error() ?? budgets.error}
          </p>
        </Show>
      </form>
    </details>
  );
}
