import { createEffect, createMemo, createSignal, For, on, Show } from 'solid-js';
import {
  DEFAULT_SERVER_TYPES,
  MACHINE_LOCATIONS,
  MACHINE_PROVIDERS,
  machineChoiceProblem,
  SERVER_TYPE_PATTERN,
  VM_SIZES,
  type CloudName,
  type MachineProvider,
  type VmSizeName,
} from '../../../functions/_shared/common/contracts/clouds.ts';
import type { MachineDefaults } from '../lib/supabase/index.ts';
import { machines, saveMachineDefaults } from '../stores/machines.ts';
import { projectPanelOpen, setProjectView } from '../lib/route.ts';

/** A project's machine defaults: provider, size, location, and its own server type per size. */
export function ProjectMachineSettings(props: { projectId: string }) {
  const [provider, setProvider] = createSignal<MachineProvider>('local');
  const [size, setSize] = createSignal<VmSizeName>('medium');
  const [location, setLocation] = createSignal('');
  const [types, setTypes] = createSignal<MachineDefaults['machineTypes']>({});
  const [busy, setBusy] = createSignal(false);
  const [note, setNote] = createSignal<string | null>(null);
  const [error, setError] = createSignal<string | null>(null);

  // A memo: the route hands new props on every URL change; only defaults read anew reset the form.
  const loaded = createMemo(() => (machines.projectId === props.projectId ? machines.defaults : null));
  createEffect(
    on(loaded, (d) => {
      if (!d) return;
      setProvider(d.provider);
      setSize(d.vmSize);
      setLocation(d.location ?? '');
      setTypes(d.machineTypes);
    }),
  );

  const cloud = () => (provider() === 'local' ? null : (provider() as CloudName));
  const typeOf = (c: CloudName, s: VmSizeName) => types()[c]?.[s] ?? '';
  const setType = (c: CloudName, s: VmSizeName, value: string) => {
    const forCloud = { ...types()[c] };
    if (value.trim()) forCloud[s] = value.trim();
    else delete forCloud[s];
    setTypes({ ...types(), [c]: forCloud });
  };

  const onSave = async (e: SubmitEvent) => {
    e.preventDefault();
    setNote(null);
    setError(null);
    const problem = machineChoiceProblem(provider(), location() || null);
    const badType = Object.values(types())
      .flatMap((t) => Object.values(t ?? {}))
      .find((t) => !SERVER_TYPE_PATTERN.test(t ?? ''));
    if (problem || badType) {
      setError(problem ?? `"${badType}" is not a server type name`);
      return;
    }
    setBusy(true);
    try {
      await saveMachineDefaults(props.projectId, {
        provider: provider(),
        vmSize: size(),
        location: location() || null,
        machineTypes: types(),
      });
      setNote('Saved.');
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <details
      class="machine-settings"
      open={projectPanelOpen('machine')}
      onToggle={(e) => {
        if (e.currentTarget.open !== projectPanelOpen('machine'))
          setProjectView({ panel: e.currentTarget.open ? 'machine' : null });
      }}
    >
      <summary>Machine defaults</summary>
      <form onSubmit={(e) => void onSave(e)}>
        <label for="machines-provider">Default provider</label>
        <select
          id="machines-provider"
          value={provider()}
          onChange={(e) => {
            setProvider(e.currentTarget.value as MachineProvider);
            setLocation('');
          }}
        >
          <For each={MACHINE_PROVIDERS}>{(p) => <option value={p.id}>{p.label}</option>}</For>
        </select>
        <label for="machines-size">Default size</label>
        <select id="machines-size" value={size()} onChange={(e) => setSize(e.currentTarget.value as VmSizeName)}>
          <For each={VM_SIZES}>{(s) => <option value={s}>{s}</option>}</For>
        </select>
        <Show when={cloud()}>
          {(c) => (
            <>
              <label for="machines-location">Default location</label>
              <select id="machines-location" value={location()} onChange={(e) => setLocation(e.currentTarget.value)}>
                <option value="">Default ({MACHINE_LOCATIONS[c()][0]})</option>
                <For each={MACHINE_LOCATIONS[c()]}>{(l) => <option value={l}>{l}</option>}</For>
              </select>
              <fieldset>
                <legend>Server type per size (empty: the built-in one)</legend>
                <For each={VM_SIZES}>
                  {(s) => (
                    <>
                      <label for={`machines-type-${s}`}>{s}</label>
                      <input
                        id={`machines-type-${s}`}
                        placeholder={DEFAULT_SERVER_TYPES[c()][s]}
                        value={typeOf(c(), s)}
                        onInput={(e) => setType(c(), s, e.currentTarget.value)}
                      />
                    </>
                  )}
                </For>
              </fieldset>
            </>
          )}
        </Show>
        <button type="submit" disabled={busy() || !loaded()}>
          Save machine defaults
        </button>
        <Show when={note()}>
          <p class="muted">{note()}</p>
        </Show>
        <Show when={error()}>
          <p class="error" role="alert">
            {error()}
          </p>
        </Show>
      </form>
    </details>
  );
}
