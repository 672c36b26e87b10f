import { createStore } from 'solid-js/store';
import * as api from '../lib/supabase/index.ts';
import type { MachineDefaults } from '../lib/supabase/index.ts';

interface MachinesState {
  projectId: string | null;
  defaults: MachineDefaults | null;
  error: string | null;
}

const [machines, setState] = createStore<MachinesState>({ projectId: null, defaults: null, error: null });

export { machines };

/** The project's machine defaults (read once per project). */
export async function loadMachineDefaults(projectId: string): Promise<void> {
  setState({ projectId, defaults: null, error: null });
  try {
    const defaults = await api.getMachineDefaults(projectId);
    if (machines.projectId === projectId) setState({ defaults });
  } catch (e) {
    if (machines.projectId === projectId) setState({ error: e instanceof Error ? e.message : String(e) });
  }
}

export async function saveMachineDefaults(projectId: string, defaults: MachineDefaults): Promise<void> {
  await api.saveMachineDefaults(projectId, defaults);
  if (machines.projectId === projectId) setState({ defaults: { ...defaults } });
}
