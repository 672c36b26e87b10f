import { For, Show } from 'solid-js';
import {
  MACHINE_LOCATIONS,
  MACHINE_PROVIDERS,
  VM_SIZES,
  type MachineProvider,
} from '../../../functions/_shared/common/contracts/clouds.ts';
import type { MachineDefaults } from '../lib/supabase/index.ts';

/** The composer's machine pick; '' = not picked (the profile's or the project's default applies). */
export interface MachinePick {
  provider: string;
  vmSize: string;
  location: string;
}

export const NO_PICK: MachinePick = { provider: '', vmSize: '', location: '' };

const providerLabel = (id: string | undefined) => MACHINE_PROVIDERS.find((p) => p.id === id)?.label ?? '…';

/** Provider, size and location for the next task; what is picked here is what submit_task gets. */
export function MachineChoice(props: {
  value: MachinePick;
  onChange: (pick: MachinePick) => void;
  defaults: MachineDefaults | null;
}) {
  const locations = () => MACHINE_LOCATIONS[props.value.provider as MachineProvider] ?? [];
  const set = (patch: Partial<MachinePick>) => props.onChange({ ...props.value, ...patch });
  return (
    <>
      <span class="choice">
        <label for="composer-provider">Machine</label>
        <select
          id="composer-provider"
          name="provider"
          value={props.value.provider}
          onChange={(e) => set({ provider: e.currentTarget.value, location: '' })}
        >
          <option value="">Project default ({providerLabel(props.defaults?.provider)})</option>
          <For each={MACHINE_PROVIDERS}>{(p) => <option value={p.id}>{p.label}</option>}</For>
        </select>
      </span>
      <span class="choice">
        <label for="composer-size">Size</label>
        <select
          id="composer-size"
          name="vmSize"
          value={props.value.vmSize}
          onChange={(e) => set({ vmSize: e.currentTarget.value })}
        >
          <option value="">Default ({props.defaults?.vmSize ?? '…'})</option>
          <For each={VM_SIZES}>{(s) => <option value={s}>{s}</option>}</For>
        </select>
      </span>
      <Show when={locations().length > 0}>
        <span class="choice">
          <label for="composer-location">Location</label>
          <select
            id="composer-location"
            name="location"
            value={props.value.location}
            onChange={(e) => set({ location: e.currentTarget.value })}
          >
            <option value="">Default ({locations()[0]})</option>
            <For each={locations()}>{(l) => <option value={l}>{l}</option>}</For>
          </select>
        </span>
      </Show>
    </>
  );
}
