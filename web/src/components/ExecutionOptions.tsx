import { For, onMount } from 'solid-js';
import { loadNodes, nodes } from '../stores/nodes.ts';

/** The composer's task mode and node; '' = not picked (the profile's or the default applies, SAM places it). */
export interface ExecutionPick {
  taskMode: string;
  nodeId: string;
}

export const NO_EXECUTION_PICK: ExecutionPick = { taskMode: '', nodeId: '' };

/** A node takes a new task only while it is idle (warm). */
const idle = (status: string) => status === 'warm';

/** Task mode and a specific node of the user's for the next task; what is picked is what submit_task gets. */
export function ExecutionOptions(props: { value: ExecutionPick; onChange: (pick: ExecutionPick) => void }) {
  const set = (patch: Partial<ExecutionPick>) => props.onChange({ ...props.value, ...patch });
  // The node list is read when the picker is opened, so nodes that went idle since show up.
  const refresh = () => void loadNodes();
  onMount(refresh);
  return (
    <>
      <span class="choice">
        <label for="composer-mode">Mode</label>
        <select
          id="composer-mode"
          name="taskMode"
          value={props.value.taskMode}
          onChange={(e) => set({ taskMode: e.currentTarget.value })}
        >
          <option value="">Default</option>
          <option value="task">Task (commit, push, pull request)</option>
          <option value="conversation">Conversation</option>
        </select>
      </span>
      <span class="choice">
        <label for="composer-node">Node</label>
        <select
          id="composer-node"
          name="nodeId"
          value={props.value.nodeId}
          onFocus={refresh}
          onPointerDown={refresh}
          onChange={(e) => set({ nodeId: e.currentTarget.value })}
        >
          <option value="">Any (SAM chooses)</option>
          <For each={nodes.items}>
            {(n) => (
              <option value={n.id} disabled={!idle(n.status)}>
                {n.name} ({n.provider}, {n.vm_size}
                {idle(n.status) ? ', idle' : `, ${n.status}`})
              </option>
            )}
          </For>
        </select>
      </span>
    </>
  );
}
