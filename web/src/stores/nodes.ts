import { createStore } from 'solid-js/store';
import * as api from '../lib/supabase/index.ts';
import type { AddedMachine, NodeRow } from '../lib/supabase/index.ts';

interface NodesState {
  items: NodeRow[];
  loaded: boolean;
  error: string | null;
  /** The machine just added, with its one-time command (shown until the page is left). */
  added: AddedMachine | null;
}

const [nodes, setState] = createStore<NodesState>({ items: [], loaded: false, error: null, added: null });

export { nodes };

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

export async function loadNodes(): Promise<void> {
  try {
    setState({ items: await api.listNodes(), loaded: true, error: null });
  } catch (e) {
    setState({ loaded: true, error: message(e) });
  }
}

export async function addMachine(name: string, size: string): Promise<void> {
  try {
    setState({ added: await api.addMachine(name, size), error: null });
    await loadNodes();
  } catch (e) {
    setState({ error: message(e) });
  }
}

export async function removeNode(id: string): Promise<void> {
  try {
    await api.removeNode(id);
    await loadNodes();
  } catch (e) {
    setState({ error: message(e) });
  }
}

export function resetNodes(): void {
  setState({ items: [], loaded: false, error: null, added: null });
}
