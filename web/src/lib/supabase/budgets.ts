// Budgets: a project's default limits for its new tasks, as its overrides of the settings
// task_max_turns, task_max_wall_time and task_max_tokens (`project_settings` under RLS: the owner's
// alone; the database checks each value's type and range). A task's own budget is made from them
// when it first asks (sam_task_budget); an agent profile's own limits win over them.
import { sb } from './client.ts';

/** Null: no project default (the platform's applies, which is no limit); 0: no limit. */
export interface BudgetDefaults {
  turns: number | null;
  /** Agent time, in whole minutes. */
  wallMinutes: number | null;
  tokens: number | null;
}

const KEYS = { turns: 'task_max_turns', wallMinutes: 'task_max_wall_time', tokens: 'task_max_tokens' } as const;

const UNIT_MINUTES: Record<string, number> = { second: 1 / 60, minute: 1, hour: 60, day: 1440 };

/** An interval as stored ("30 minutes", "2 hours", "0 seconds", "01:30:00") in whole minutes. */
export function intervalMinutes(value: string): number | null {
  const hms = /^(\d+):(\d{2}):(\d{2})$/.exec(value.trim());
  if (hms) return Number(hms[1]) * 60 + Number(hms[2]) + Math.round(Number(hms[3]) / 60);
  let minutes = 0;
  let matched = false;
  for (const m of value.matchAll(/(\d+)\s*(second|minute|hour|day)s?/gi)) {
    minutes += Number(m[1]) * UNIT_MINUTES[m[2]!.toLowerCase()]!;
    matched = true;
  }
  return matched ? Math.round(minutes) : null;
}

export async function getBudgetDefaults(projectId: string): Promise<BudgetDefaults> {
  const { data, error } = await sb()
    .from('project_settings')
    .select('key, value')
    .eq('project_id', projectId)
    .in('key', Object.values(KEYS));
  if (error) throw new Error(`Could not read the budget defaults: ${error.message}`);
  const value = (key: string) => (data ?? []).find((r) => (r as { key: string }).key === key)?.value as unknown;
  const int = (v: unknown) => (v === undefined || v === null ? null : Number(v));
  const wall = value(KEYS.wallMinutes);
  return {
    turns: int(value(KEYS.turns)),
    wallMinutes: typeof wall === 'string' ? intervalMinutes(wall) : null,
    tokens: int(value(KEYS.tokens)),
  };
}

/** Sets the given defaults and removes the ones that are null (back to the platform's). */
export async function saveBudgetDefaults(projectId: string, d: BudgetDefaults): Promise<void> {
  const set = [
    d.turns === null ? null : { project_id: projectId, key: KEYS.turns, value: d.turns },
    d.wallMinutes === null ? null : { project_id: projectId, key: KEYS.wallMinutes, value: `${d.wallMinutes} minutes` },
    d.tokens === null ? null : { project_id: projectId, key: KEYS.tokens, value: d.tokens },
  ].filter((r) => r !== null);
  const unset = (Object.keys(KEYS) as (keyof BudgetDefaults)[]).filter((k) => d[k] === null).map((k) => KEYS[k]);
  if (set.length > 0) {
    const { error } = await sb().from('project_settings').upsert(set, { onConflict: 'project_id,key' });
    if (error) throw new Error(`Could not save the budget defaults: ${error.message}`);
  }
  if (unset.length > 0) {
    const { error } = await sb().from('project_settings').delete().eq('project_id', projectId).in('key', unset);
    if (error) throw new Error(`Could not save the budget defaults: ${error.message}`);
  }
}
