import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'smol-toml';

/** One `[functions.<name>]` section of supabase/config.toml, with paths made absolute. */
export interface FunctionConfig {
  name: string;
  enabled: boolean;
  /** The platform's JWT check before the function runs (default true, as in the Supabase CLI). */
  verifyJwt: boolean;
  /** The module Deno runs. */
  entrypoint: string;
  /** The function's own import map or deno.json, if it names one. */
  importMap: string | null;
  /** The folder watched for changes: the entrypoint's. */
  dir: string;
}

const NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * Reads the functions of a Supabase CLI config file. Relative paths are relative to the folder of
 * the config file (supabase/), as the CLI resolves them; a function without `entrypoint` gets the
 * CLI default `functions/<name>/index.ts` there.
 */
export function readFunctionsConfig(configPath: string): FunctionConfig[] {
  if (!existsSync(configPath)) throw new Error(`functions: no config file at ${configPath}`);
  let parsed: Record<string, unknown>;
  try {
    parsed = parse(readFileSync(configPath, 'utf8'));
  } catch (e) {
    throw new Error(`functions: ${configPath}: ${(e as Error).message}`);
  }
  const base = dirname(resolve(configPath));
  const at = (p: string) => (isAbsolute(p) ? p : join(base, p));
  const section = parsed.functions;
  if (section === undefined) return [];
  if (section === null || typeof section !== 'object' || Array.isArray(section)) {
    throw new Error('functions: [functions] is not a table');
  }
  return Object.entries(section as Record<string, unknown>).map(([name, value]) => {
    const where = `${configPath} [functions.${name}]`;
    if (!NAME.test(name)) throw new Error(`${where}: invalid function name`);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: not a table`);
    const raw = value as Record<string, unknown>;
    const bool = (key: string, fallback: boolean) => {
      const v = raw[key];
      if (v === undefined) return fallback;
      if (typeof v !== 'boolean') throw new Error(`${where}: ${key} must be true or false`);
      return v;
    };
    const str = (key: string) => {
      const v = raw[key];
      if (v === undefined || v === '') return null;
      if (typeof v !== 'string') throw new Error(`${where}: ${key} must be a string`);
      return v;
    };
    const entrypoint = at(str('entrypoint') ?? join('functions', name, 'index.ts'));
    if (!/\.(ts|js|mjs|jsx|tsx)$/.test(entrypoint)) throw new Error(`${where}: unsupported entrypoint ${entrypoint}`);
    const importMap = str('import_map');
    return {
      name,
      enabled: bool('enabled', true),
      verifyJwt: bool('verify_jwt', true),
      entrypoint,
      importMap: importMap === null ? null : at(importMap),
      dir: dirname(entrypoint),
    };
  });
}

/**
 * `[edge_runtime.secrets]`: what `supabase secrets set` holds on hosted. Values may be literals or
 * `env(NAME)`, read from the environment of the stack (as the Supabase CLI does); a missing
 * variable is an error, so a function never starts without a secret it was promised. Names
 * starting with `SUPABASE_` are reserved.
 */
export function readFunctionSecrets(configPath: string): Record<string, string> {
  const parsed = parse(readFileSync(configPath, 'utf8'));
  const runtime = parsed.edge_runtime as Record<string, unknown> | undefined;
  const secrets = (runtime?.secrets ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(secrets)) {
    const where = `${configPath} [edge_runtime.secrets] ${name}`;
    if (name.startsWith('SUPABASE_')) throw new Error(`${where}: SUPABASE_* names are reserved`);
    if (typeof value !== 'string') throw new Error(`${where}: must be a string`);
    const ref = /^env\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(value);
    const resolved = ref ? process.env[ref[1]!] : value;
    if (resolved === undefined || resolved === '')
      throw new Error(`${where}: environment variable ${ref?.[1]} is not set`);
    out[name] = resolved;
  }
  return out;
}
