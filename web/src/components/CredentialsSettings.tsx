import { createSignal, For, onMount, Show } from 'solid-js';
import type { CredentialType } from '../../../functions/_shared/common/contracts/credentials.ts';
import { credentials, loadCredentials, removeCredential, saveCredential } from '../stores/credentials.ts';
import { loadProjects, projects } from '../stores/projects.ts';

interface Slot {
  type: CredentialType;
  provider: string;
  label: string;
  /** What the key is for, in the user's words. */
  help: string;
  baseUrl: boolean;
}

const MODEL_KEYS: Slot[] = [
  { type: 'agent-api-key', provider: 'anthropic', label: 'Anthropic', help: 'Claude Code', baseUrl: true },
  { type: 'agent-api-key', provider: 'openai', label: 'OpenAI', help: 'Codex', baseUrl: true },
  { type: 'agent-api-key', provider: 'gemini', label: 'Gemini', help: 'Gemini CLI', baseUrl: true },
  { type: 'agent-api-key', provider: 'opencode', label: 'OpenCode provider', help: 'OpenCode', baseUrl: true },
];
const CLOUDS: Slot[] = [
  { type: 'cloud-provider', provider: 'hetzner', label: 'Hetzner Cloud', help: 'API token', baseUrl: false },
  { type: 'cloud-provider', provider: 'scaleway', label: 'Scaleway', help: 'secret key', baseUrl: false },
];

const when = (iso: string) => new Date(iso).toLocaleString();

function SlotRow(props: { slot: Slot }) {
  const [editing, setEditing] = createSignal(false);
  const [secret, setSecret] = createSignal('');
  const [baseUrl, setBaseUrl] = createSignal('');
  const [projectId, setProjectId] = createSignal('');
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(null);
  const id = () => `${props.slot.type}-${props.slot.provider}`;

  const stored = () =>
    credentials.items.filter((c) => c.type === props.slot.type && c.provider === props.slot.provider);
  const scopeName = (projectId: string | null) =>
    projectId === null ? 'all my projects' : (projects.items.find((p) => p.id === projectId)?.name ?? 'a project');

  const act = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  const onSave = async (e: SubmitEvent) => {
    e.preventDefault();
    const input = {
      type: props.slot.type,
      provider: props.slot.provider,
      secret: secret().trim(),
      ...(baseUrl().trim() ? { baseUrl: baseUrl().trim() } : {}),
      ...(projectId() ? { projectId: projectId() } : {}),
    };
    await act(async () => {
      await saveCredential(input);
      setSecret('');
      setBaseUrl('');
      setEditing(false);
    });
  };

  return (
    <li class="credential" data-provider={props.slot.provider}>
      <div class="credential-head">
        <strong>{props.slot.label}</strong>
        <span class="muted"> · {props.slot.help}</span>
      </div>
      <Show when={stored().length > 0} fallback={<p class="muted">Not set</p>}>
        <ul class="credential-scopes">
          <For each={stored()}>
            {(c) => (
              <li>
                <span>
                  Set, ends in …{c.hint} — for {scopeName(c.projectId)}
                  <Show when={c.baseUrl}> · via {c.baseUrl}</Show>
                  <span class="muted"> · updated {when(c.updatedAt)}</span>
                </span>
                <button
                  type="button"
                  class="link"
                  disabled={busy()}
                  aria-label={`Delete the ${props.slot.label} credential for ${scopeName(c.projectId)}`}
                  onClick={() => void act(() => removeCredential(c.id))}
                >
                  Delete
                </button>
              </li>
            )}
          </For>
        </ul>
      </Show>
      <Show
        when={editing()}
        fallback={
          <button type="button" onClick={() => setEditing(true)}>
            {stored().length > 0 ? `Replace ${props.slot.label}` : `Set ${props.slot.label}`}
          </button>
        }
      >
        <form class="credential-form" onSubmit={(e) => void onSave(e)}>
          <label for={`${id()}-secret`}>
            {props.slot.label} {props.slot.help === 'secret key' ? 'secret key' : 'key'}
          </label>
          <input
            id={`${id()}-secret`}
            type="password"
            autocomplete="off"
            required
            value={secret()}
            onInput={(e) => setSecret(e.currentTarget.value)}
          />
          <Show when={props.slot.baseUrl}>
            <label for={`${id()}-base`}>Base URL (optional, for a gateway or proxy)</label>
            <input
              id={`${id()}-base`}
              type="url"
              placeholder="https://…"
              value={baseUrl()}
              onInput={(e) => setBaseUrl(e.currentTarget.value)}
            />
          </Show>
          <label for={`${id()}-scope`}>Applies to</label>
          <select id={`${id()}-scope`} value={projectId()} onChange={(e) => setProjectId(e.currentTarget.value)}>
            <option value="">All my projects</option>
            <For each={projects.items}>{(p) => <option value={p.id}>Only {p.name}</option>}</For>
          </select>
          <div class="actions">
            <button type="submit" disabled={busy() || !secret().trim()}>
              Save
            </button>
            <button type="button" class="link" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      </Show>
      <Show when={error()}>
        <p class="error" role="alert">
          {error()}
        </p>
      </Show>
    </li>
  );
}

/** The user's credentials: write-only, shown as "set, ends in …1234", replaceable and deletable. */
export function CredentialsSettings() {
  onMount(() => {
    void loadCredentials();
    if (!projects.loaded) void loadProjects();
  });

  return (
    <div class="settings">
      <h1>Settings</h1>
      <p class="muted">
        Keys are encrypted before they are stored and are never shown again. An agent gets only its own key, when its
        session starts.
      </p>
      <Show when={credentials.error}>
        <p class="error" role="alert">
          {credentials.error}
        </p>
      </Show>
      <section aria-labelledby="model-keys">
        <h2 id="model-keys">Model keys</h2>
        <ul class="credential-list">
          <For each={MODEL_KEYS}>{(slot) => <SlotRow slot={slot} />}</For>
        </ul>
      </section>
      <section aria-labelledby="clouds">
        <h2 id="clouds">Clouds</h2>
        <ul class="credential-list">
          <For each={CLOUDS}>{(slot) => <SlotRow slot={slot} />}</For>
        </ul>
      </section>
    </div>
  );
}
