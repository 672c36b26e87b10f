import { createSignal, For, onCleanup, onMount, Show } from 'solid-js';
import { addMachine, loadNodes, nodes, removeNode, resetNodes } from '../stores/nodes.ts';
import type { NodeRow } from '../lib/supabase/index.ts';
import { NodeWorkspaces } from './NodeWorkspaces.tsx';

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : '—');

/** How long ago the last heartbeat came, in words. */
function health(n: NodeRow): string {
  if (!n.last_heartbeat_at) return n.status === 'provisioning' ? 'not registered yet' : 'no heartbeat';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(n.last_heartbeat_at)) / 1000));
  const ago = seconds < 120 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
  return `${n.status === 'unhealthy' ? 'unhealthy' : 'healthy'}, last heartbeat ${ago}`;
}

function warmUntil(n: NodeRow): string {
  if (n.status !== 'warm' || !n.warm_until) return '—';
  return n.warm_until === 'infinity' ? 'always (your machine)' : when(n.warm_until);
}

const providerName = (p: string) => (p === 'byo' ? 'your machine' : p);
/** A machine the user brought is removed (SAM stops using it); a cloud machine is destroyed. */
const removeVerb = (n: NodeRow) => (n.provider === 'byo' ? 'Remove' : 'Destroy');

/** `#/nodes`: the user's machines, and "Add a machine" with the one command that enrols one. */
export function NodesPage() {
  const [name, setName] = createSignal('');
  const [size, setSize] = createSignal('medium');
  const [busy, setBusy] = createSignal(false);
  /** The node whose removal waits for the user's confirmation. */
  const [confirming, setConfirming] = createSignal<string | null>(null);
  onMount(() => void loadNodes());
  // Health is about heartbeats: re-read while the page is open.
  const timer = setInterval(() => void loadNodes(), 10_000);
  onCleanup(() => {
    clearInterval(timer);
    resetNodes();
  });

  const onAdd = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await addMachine(name().trim(), size());
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="nodes">
      <h1>Machines</h1>
      <form class="add-machine" onSubmit={(e) => void onAdd(e)} aria-label="Add a machine">
        <h2>Add a machine</h2>
        <p class="muted">
          Bring any Linux machine with Node.js 20 or newer, curl and sha256sum. SAM runs tasks on it and never destroys
          it.
        </p>
        <label>
          Name
          <input
            value={name()}
            onInput={(e) => setName(e.currentTarget.value)}
            placeholder="My machine"
            maxLength={100}
          />
        </label>
        <label>
          Size
          <select value={size()} onChange={(e) => setSize(e.currentTarget.value)}>
            <option value="small">small</option>
            <option value="medium">medium</option>
            <option value="large">large</option>
          </select>
        </label>
        <button type="submit" disabled={busy()}>
          Add a machine
        </button>
      </form>
      <Show when={nodes.added}>
        {(added) => (
          <div class="machine-command" role="region" aria-label="Install command">
            <p>
              Paste this on the machine, as the user that should run the agents, before {when(added().expiresAt)} (the
              token in it works once):
            </p>
            <pre data-testid="byo-command">{added().command}</pre>
            <button type="button" onClick={() => void navigator.clipboard?.writeText(added().command)}>
              Copy
            </button>
          </div>
        )}
      </Show>
      <Show when={nodes.error}>
        <p class="error" role="alert">
          {nodes.error}
        </p>
      </Show>
      <Show when={nodes.loaded} fallback={<p class="muted">Loading…</p>}>
        <Show when={nodes.items.length > 0} fallback={<p class="muted">No machines yet.</p>}>
          <table class="node-list">
            <thead>
              <tr>
                <th>Name</th>
                <th>Provider</th>
                <th>Size</th>
                <th>State</th>
                <th>Health</th>
                <th>Warm until</th>
                <th>Workspaces</th>
                <th />
              </tr>
            </thead>
            <tbody>
              <For each={nodes.items}>
                {(n) => (
                  <tr data-node-id={n.id}>
                    <td>{n.name}</td>
                    <td>{providerName(n.provider)}</td>
                    <td>{n.vm_size}</td>
                    <td data-testid="node-status">{n.status}</td>
                    <td>{health(n)}</td>
                    <td>{warmUntil(n)}</td>
                    <td>
                      <NodeWorkspaces node={n} />
                    </td>
                    <td>
                      <Show when={!['destroying', 'destroyed'].includes(n.status)}>
                        <Show
                          when={confirming() === n.id}
                          fallback={
                            <button type="button" class="link" onClick={() => setConfirming(n.id)}>
                              {removeVerb(n)} {n.name}
                            </button>
                          }
                        >
                          <div role="alertdialog" aria-label={`${removeVerb(n)} ${n.name}?`} class="confirm">
                            <p>
                              {n.provider === 'byo'
                                ? `SAM stops using ${n.name}; the machine itself stays.`
                                : `${n.name} is shut down and deleted.`}
                              {n.workspaces > 0
                                ? ` Its ${n.workspaces} running workspace(s) stop and their tasks fail.`
                                : ''}
                            </p>
                            <button
                              type="button"
                              class="danger"
                              onClick={() => {
                                setConfirming(null);
                                void removeNode(n.id);
                              }}
                            >
                              Yes, {removeVerb(n).toLowerCase()} {n.name}
                            </button>
                            <button type="button" onClick={() => setConfirming(null)}>
                              Cancel
                            </button>
                          </div>
                        </Show>
                      </Show>
                    </td>
                  </tr>
                )}
              </For>
            </tbody>
          </table>
        </Show>
      </Show>
    </section>
  );
}
