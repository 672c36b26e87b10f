/**
 * How each real agent is configured for a SAM session: its environment (the model credential only
 * here, as the process's environment — never argv, never a file) and the config files it reads,
 * written into the session's own HOME. The settings are the ones the offline runs in tests/agents/
 * proved against the scripted model servers: endpoint overrides, the model, telemetry and update
 * checks off, no interactive prompts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentLaunchSettings } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { AGENT_PACKAGES } from './manifest.ts';

export type ConfigurableAgent = keyof typeof AGENT_PACKAGES;

export function isConfigurableAgent(type: string): type is ConfigurableAgent {
  return Object.hasOwn(AGENT_PACKAGES, type);
}

export type AgentConfiguration = {
  /** Arguments after the package's executable. */
  args: string[];
  /** What the agent process gets on top of the allow-listed environment (HOME included). */
  env: Record<string, string>;
  /** Values that must never show in logs or reports (the credential, and anything carrying it). */
  secrets: string[];
};

export type ConfigureOptions = {
  /** The session's own HOME; config files go below it. */
  home: string;
  settings: Pick<AgentLaunchSettings, 'model' | 'credential'>;
  /**
   * The base URL the agent is to call instead of its model's (the vm-agent's usage meter, which
   * forwards to {@link meteredUpstream}); only for an agent that has one.
   */
  modelUrl?: string;
};

/** Models used when the profile names none and a custom endpoint needs one. */
const DEFAULT_MODELS: Record<ConfigurableAgent, string> = {
  'claude-code': 'claude-sonnet-4-5',
  codex: 'gpt-5.3-codex',
  gemini: 'gemini-2.5-pro',
  opencode: 'gpt-4.1',
};

export const ANTHROPIC_API = 'https://api.anthropic.com';

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/** `http://host/x` → `http://host/x/v1` unless it already ends in a version segment. */
const withV1 = (url: string) => (/\/v\d+[a-z]*$/.test(trimSlash(url)) ? trimSlash(url) : `${trimSlash(url)}/v1`);

/**
 * Where an agent's model calls go when the vm-agent meters them (agents/model-meter.ts), or null
 * when they are not metered. Claude Code: the credential's base URL, else the Anthropic API.
 * OpenCode: the credential's base URL (its openai-compatible provider, Chat Completions); without
 * one OpenCode uses the vendor's built-in provider, whose wire format depends on the model, so its
 * usage stays the ACP prompt result's (the turn's last model call).
 */
export function meteredUpstream(type: string, settings: Pick<AgentLaunchSettings, 'credential'>): string | null {
  const baseUrl = settings.credential?.baseUrl;
  if (type === 'claude-code') return baseUrl ? trimSlash(baseUrl) : ANTHROPIC_API;
  if (type === 'opencode' && baseUrl) return withV1(baseUrl);
  return null;
}

function configString(config: Record<string, unknown>, name: string): string | null {
  const v = config[name];
  return typeof v === 'string' && v !== '' ? v : null;
}

async function claudeCode({ home, settings, modelUrl }: ConfigureOptions): Promise<AgentConfiguration> {
  const cred = settings.credential!;
  await mkdir(path.join(home, '.claude'), { recursive: true });
  return {
    args: [...AGENT_PACKAGES['claude-code'].args],
    env: {
      HOME: home,
      ANTHROPIC_API_KEY: cred.secretApiKey,
      ...(modelUrl || cred.baseUrl ? { ANTHROPIC_BASE_URL: modelUrl ?? trimSlash(cred.baseUrl!) } : {}),
      // claude-code-acp picks a model alias itself at session/new (the "default", i.e. Sonnet, for
      // API keys); the aliases' variables make each resolve to the profile's model.
      ...(settings.model
        ? {
            ANTHROPIC_MODEL: settings.model,
            ANTHROPIC_DEFAULT_SONNET_MODEL: settings.model,
            ANTHROPIC_DEFAULT_OPUS_MODEL: settings.model,
          }
        : {}),
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      DISABLE_AUTOUPDATER: '1',
    },
    secrets: [cred.secretApiKey],
  };
}

async function codex({ home, settings }: ConfigureOptions): Promise<AgentConfiguration> {
  const cred = settings.credential!;
  // CODEX_HOME must exist before start; sessions and config live there. The key stays in the
  // environment: the provider names the variable (`env_key`), the file never holds it.
  const codexHome = path.join(home, '.codex');
  await mkdir(codexHome, { recursive: true });
  const model = settings.model ?? configString(cred.config, 'model') ?? DEFAULT_MODELS.codex;
  await writeFile(
    path.join(codexHome, 'config.toml'),
    [
      `model = ${JSON.stringify(model)}`,
      'model_provider = "sam"',
      'sandbox_mode = "danger-full-access"',
      'approval_policy = "never"',
      'check_for_update_on_startup = false',
      '',
      '[analytics]',
      'enabled = false',
      '',
      // Codex snapshots the shell's environment (the key included) into CODEX_HOME: not here.
      '[features]',
      'shell_snapshot = false',
      '',
      '[model_providers.sam]',
      'name = "SAM"',
      `base_url = ${JSON.stringify(withV1(cred.baseUrl ?? 'https://api.openai.com/v1'))}`,
      'env_key = "OPENAI_API_KEY"',
      'wire_api = "responses"',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return {
    args: [...AGENT_PACKAGES.codex.args],
    env: { HOME: home, CODEX_HOME: codexHome, OPENAI_API_KEY: cred.secretApiKey },
    secrets: [cred.secretApiKey],
  };
}

async function gemini({ home, settings }: ConfigureOptions): Promise<AgentConfiguration> {
  const cred = settings.credential!;
  // Telemetry, usage statistics and update checks off; no folder-trust prompts.
  await mkdir(path.join(home, '.gemini'), { recursive: true });
  await writeFile(
    path.join(home, '.gemini', 'settings.json'),
    JSON.stringify({
      security: { auth: { selectedType: 'gemini-api-key' }, folderTrust: { enabled: false } },
      privacy: { usageStatisticsEnabled: false },
      telemetry: { enabled: false },
      general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
    }),
    { mode: 0o600 },
  );
  const model = settings.model ?? configString(cred.config, 'model') ?? DEFAULT_MODELS.gemini;
  return {
    // An explicit model skips the router call that picks one per turn.
    args: [...AGENT_PACKAGES.gemini.args, '-m', model],
    env: {
      HOME: home,
      GEMINI_API_KEY: cred.secretApiKey,
      ...(cred.baseUrl ? { GOOGLE_GEMINI_BASE_URL: trimSlash(cred.baseUrl) } : {}),
    },
    secrets: [cred.secretApiKey],
  };
}

async function opencode({ home, settings, modelUrl }: ConfigureOptions): Promise<AgentConfiguration> {
  const cred = settings.credential!;
  const model = settings.model ?? configString(cred.config, 'model') ?? DEFAULT_MODELS.opencode;
  // A base URL: an openai-compatible provider of SAM's own (through the usage meter when given);
  // otherwise the vendor's built-in one.
  const [providerId, provider] = cred.baseUrl
    ? [
        'sam',
        {
          npm: '@ai-sdk/openai-compatible',
          name: 'SAM',
          options: { baseURL: modelUrl ?? withV1(cred.baseUrl), apiKey: cred.secretApiKey },
          models: { [model]: { name: model, tool_call: true } },
        },
      ]
    : [cred.provider, { options: { apiKey: cred.secretApiKey } }];
  const config = {
    autoupdate: false,
    share: 'disabled',
    model: `${providerId}/${model}`,
    small_model: `${providerId}/${model}`,
    provider: { [providerId]: provider },
  };
  await mkdir(home, { recursive: true });
  const content = JSON.stringify(config);
  return {
    args: [...AGENT_PACKAGES.opencode.args],
    // The config carries the key, so it travels in the environment, never as a file.
    env: {
      HOME: home,
      OPENCODE_CONFIG_CONTENT: content,
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_SHARE: '1',
    },
    secrets: [cred.secretApiKey, content],
  };
}

const CONFIGURE: Record<ConfigurableAgent, (o: ConfigureOptions) => Promise<AgentConfiguration>> = {
  'claude-code': claudeCode,
  codex,
  gemini,
  opencode,
};

/** Writes the agent's config files under `home` and returns how to start it; its credential is required. */
export async function configureAgent(type: ConfigurableAgent, options: ConfigureOptions): Promise<AgentConfiguration> {
  if (!options.settings.credential) {
    throw new Error(`${AGENT_PACKAGES[type].title} needs a model credential and none was given`);
  }
  await mkdir(options.home, { recursive: true, mode: 0o700 });
  return CONFIGURE[type](options);
}
