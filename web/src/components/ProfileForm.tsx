import { createSignal, For, Show, type JSX } from 'solid-js';
import { AGENT_TYPES } from '../../../functions/_shared/common/contracts/agents.ts';
import {
  checkDraft,
  LIMITS,
  PERMISSION_MODES,
  TASK_MODES,
  VM_SIZES,
  WORKSPACE_PROFILES,
  type ProfileDraft,
  type ProfileErrors,
  type ProfileField,
} from '../lib/profile-form.ts';
import type { AgentProfileInput } from '../lib/types.ts';

/**
 * Creates or edits one agent profile. Checks what the table checks before sending; the server's
 * refusal (a taken name, a check) is shown in words above the buttons.
 */
export function ProfileForm(props: {
  title: string;
  initial: ProfileDraft;
  onSave: (input: AgentProfileInput) => Promise<void>;
  onCancel: () => void;
}) {
  const [draft, setDraft] = createSignal<ProfileDraft>({ ...props.initial });
  const [errors, setErrors] = createSignal<ProfileErrors>({});
  const [serverError, setServerError] = createSignal<string | null>(null);
  const [busy, setBusy] = createSignal(false);

  const set = (field: ProfileField) => (e: { currentTarget: { value: string } }) => {
    const value = e.currentTarget.value;
    setDraft((d) => ({ ...d, [field]: value }));
    if (errors()[field]) setErrors((all) => ({ ...all, [field]: undefined }));
  };

  const onSubmit = async (e: SubmitEvent) => {
    e.preventDefault();
    setServerError(null);
    const checked = checkDraft(draft());
    if (!checked.ok) {
      setErrors(checked.errors);
      return;
    }
    setErrors({});
    setBusy(true);
    try {
      await props.onSave(checked.value);
    } catch (err) {
      setServerError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  /** A labelled control with its error, tied together for screen readers. */
  const Field = (p: { field: ProfileField; label: string; hint?: string; children: JSX.Element }) => (
    <div class="field" data-field={p.field}>
      <label for={`profile-${p.field}`}>{p.label}</label>
      {p.children}
      <Show when={p.hint}>
        <p class="muted hint-text" id={`profile-${p.field}-hint`}>
          {p.hint}
        </p>
      </Show>
      <Show when={errors()[p.field]}>
        <p class="error" id={`profile-${p.field}-error`}>
          {errors()[p.field]}
        </p>
      </Show>
    </div>
  );
  const aria = (field: ProfileField) => ({
    id: `profile-${field}`,
    name: field,
    'aria-invalid': errors()[field] ? true : undefined,
    'aria-describedby': errors()[field] ? `profile-${field}-error` : undefined,
  });

  const Choice = (p: { field: ProfileField; options: { id: string; label: string }[]; none?: string }) => (
    <select {...aria(p.field)} onChange={(e) => set(p.field)(e)}>
      <Show when={p.none}>
        <option value="" selected={draft()[p.field] === ''}>
          {p.none}
        </option>
      </Show>
      <For each={p.options}>
        {(o) => (
          <option value={o.id} selected={draft()[p.field] === o.id}>
            {o.label}
          </option>
        )}
      </For>
    </select>
  );

  return (
    <form class="card profile-form" aria-labelledby="profile-form-title" onSubmit={(e) => void onSubmit(e)} novalidate>
      <h2 id="profile-form-title">{props.title}</h2>
      <Field field="name" label="Name" hint="Letters, digits, spaces, dots, dashes or underscores; up to 64.">
        <input {...aria('name')} type="text" maxLength={64} value={draft().name} onInput={set('name')} />
      </Field>
      <Field field="description" label="Description (optional)">
        <input
          {...aria('description')}
          type="text"
          maxLength={LIMITS.description}
          value={draft().description}
          onInput={set('description')}
        />
      </Field>
      <Field field="agentType" label="Agent">
        <Choice field="agentType" options={AGENT_TYPES.map((a) => ({ id: a.id, label: a.label }))} />
      </Field>
      <Field field="model" label="Model (optional)" hint="The agent's own default when empty, e.g. gpt-5.3-codex.">
        <input {...aria('model')} type="text" maxLength={128} value={draft().model} onInput={set('model')} />
      </Field>
      <Field field="permissionMode" label="Permissions">
        <Choice field="permissionMode" options={PERMISSION_MODES} />
      </Field>
      <Field field="taskMode" label="Task mode">
        <Choice field="taskMode" options={TASK_MODES} none="Project default" />
      </Field>
      <Field field="workspaceProfile" label="Workspace">
        <Choice field="workspaceProfile" options={WORKSPACE_PROFILES} none="Project default" />
      </Field>
      <Field field="instructions" label="Instructions (optional)" hint="Added to every task this profile runs.">
        <textarea
          {...aria('instructions')}
          rows={4}
          maxLength={LIMITS.instructions}
          value={draft().instructions}
          onInput={set('instructions')}
        />
      </Field>
      <fieldset class="budgets">
        <legend>Budgets (optional)</legend>
        <Field field="maxTurns" label="Max turns">
          <input
            {...aria('maxTurns')}
            type="text"
            inputMode="numeric"
            value={draft().maxTurns}
            onInput={set('maxTurns')}
          />
        </Field>
        <Field field="timeoutMinutes" label="Timeout (minutes)">
          <input
            {...aria('timeoutMinutes')}
            type="text"
            inputMode="numeric"
            value={draft().timeoutMinutes}
            onInput={set('timeoutMinutes')}
          />
        </Field>
        <Field field="maxTokens" label="Max tokens">
          <input
            {...aria('maxTokens')}
            type="text"
            inputMode="numeric"
            value={draft().maxTokens}
            onInput={set('maxTokens')}
          />
        </Field>
      </fieldset>
      <fieldset class="machine">
        <legend>Machine (optional)</legend>
        <Field field="provider" label="Provider" hint="e.g. local, hetzner or scaleway; the project's when empty.">
          <input
            {...aria('provider')}
            type="text"
            maxLength={LIMITS.provider}
            value={draft().provider}
            onInput={set('provider')}
          />
        </Field>
        <Field field="vmSize" label="Machine size">
          <Choice field="vmSize" options={VM_SIZES} none="Project default" />
        </Field>
        <Field field="location" label="Location">
          <input
            {...aria('location')}
            type="text"
            maxLength={LIMITS.location}
            value={draft().location}
            onInput={set('location')}
          />
        </Field>
      </fieldset>
      <Show when={serverError()}>
        <p class="error" role="alert">
          {serverError()}
        </p>
      </Show>
      <Show when={Object.values(errors()).some(Boolean)}>
        <p class="error" role="alert">
          Please correct the fields marked above.
        </p>
      </Show>
      <div class="actions">
        <button type="submit" class="primary" disabled={busy()}>
          Save profile
        </button>
        <button type="button" class="link" onClick={() => props.onCancel()}>
          Cancel
        </button>
      </div>
    </form>
  );
}
