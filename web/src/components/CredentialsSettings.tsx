import { createSignal, For, onMount, Show } from 'solid-js';
import type { CredentialType } from '../../../functions/_shared/common/contracts/credentials.ts';
import { credentials, loadCredentials, removeCredential, saveCredential } from '../stores/credentials.ts';
import { loadProjects, projects } from '../stores/projects.ts';
import { navigate, route } from '../lib/route.ts';

interface Slot {
  type: CredentialType;
  provider: string;
  label: string;
  /** What the key is for, in the user's words. */
  help: string;
  baseUrl: boolean;
  /** Settings stored beside the secret (not secret), e.g. Scaleway's project id and zone. */
  config?: { key: string; label: string; placeholder: string; required: boolean }[];
}

const MODEL_KEYS: Slot[] = [
  { type: 'agent-api-key', provider: 'anthropic', label: 'Anthropic', help: 'Claude Code', baseUrl: true },
  { type: 'agent-api-key', provider: 'openai', label: 'OpenAI', help: 'Codex', baseUrl: true },
  { type: 'agent-api-key', provider: 'gemini', label: 'Gemini', help: 'Gemini CLI', baseUrl: true },
  { type: 'agent-api-key', provider: 'opencode', label: 'OpenCode provider', help: 'OpenCode', baseUrl: true },
];
const CLOUDS: Slot[] = [
  { type: 'cloud-provider', provider: 'hetzner', label: 'Hetzner Cloud', help: 'API token', baseUrl: false },
  {
    type: 'cloud-provider',
    provider: 'scaleway',
    label: 'Scaleway',
    help: 'secret key',
    baseUrl: false,
    config: [
      { key: 'projectId', label: 'Scaleway project id', placeholder: 'xxxxxxxx-xxxx-…', required: true },
      { key: 'zone', label: 'Default zone', placeholder: 'fr-par-1', required: false },
    ],
  },
];

const when = (iso: string) => new Date(iso).toLocaleString();

/** The settings the user filled in, trimmed; empty ones are left out. */
const filled = (config: Record<string, string>) =>
  Object.fromEntries(Object.entries(config).flatMap(([k, v]) => (v.trim() ? [[k, v.trim()]] : [])));

/** The credential form open on the page, from the URL (`#/settings?set=<provider>`): a link to it opens it. */
const openForm = () => {
  const r = route();
  return r.name === 'settings' ? (r.set ?? null) : null;
};

function SlotRow(props: { slot: Slot }) {
  const editing = () => openForm() === props.slot.provider;
  const setEditing = (open: boolean) =>
    navigate(open ? { name: 'settings', set: props.slot.provider } : { name: 'settings' });
  const [secret, setSecret] = createSignal('');
  const [baseUrl, setBaseUrl] = createSignal('');
  const [projectId, setProjectId] = createSignal('');
  const [config, setConfig] = createSignal<Record<string, string>>({});
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
      ...(props.slot.config ? { config: filled(config()) } : {}),
    };
    let saved = false;
    await act(async () => {
      await saveCredential(input);
      setSecret('');
      setBaseUrl('');
      setConfig({});
      saved = true;
    });
    if (saved) setEditing(false);
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
        <form
          class="credential-form"
          // Opened from a link (`#/settings?set=…`): brought into view.
          ref={(el) => queueMicrotask(() => el.scrollIntoView?.({ block: 'nearest' }))}
          onSubmit={(e) => void onSave(e)}
        >
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
          <For each={props.slot.config ?? []}>
            {(field) => (
              <>
                <label for={`${id()}-${field.key}`}>{field.label}</label>
                <input
                  id={`${id()}-${field.key}`}
                  required={field.required}
                  placeholder={field.placeholder}
                  value={config()[field.key] ?? ''}
                  onInput={(e) => setConfig({ ...config(), [field.key]: e.currentTarget.value })}
                />
              </>
            )}
          </For>
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
        <p class="muted">
          A cloud token is checked with the cloud before it is stored. Machines are made in your own account and never
          see the token.
        </p>
        <ul class="credential-list">
          <For each={CLOUDS}>{(slot) => <SlotRow slot={slot} />}</For>
        </ul>
      </section>
    </div>
  );
}
