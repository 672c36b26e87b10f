/**
 * GitHub's OpenAPI description (npm `@octokit/openapi`, `generated/api.github.com.json`) as JSON
 * Schema validators for the fake's answers. Read from `node_modules/@octokit/openapi` (a
 * devDependency), or from the package directory in `OCTOKIT_OPENAPI_DIR`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { root } from '../../supabase/local/paths.ts';

const candidates = [process.env.OCTOKIT_OPENAPI_DIR, join(root, 'node_modules/@octokit/openapi')].filter(
  (d): d is string => !!d,
);
export const specDir = candidates.find((d) => existsSync(join(d, 'generated/api.github.com.json')));

interface Spec {
  info: { version: string };
  paths: Record<string, Record<string, { responses: Record<string, { $ref?: string; content?: unknown }> }>>;
  'x-webhooks': Record<string, { post: { requestBody: { content: Record<string, { schema: unknown }> } } }>;
  components: { schemas: Record<string, unknown>; responses: Record<string, { content?: unknown }> };
}

/**
 * OpenAPI 3.0's `nullable: true` beside `anyOf`/`oneOf`/`allOf`/`$ref` (no `type`) as JSON Schema:
 * `anyOf: [{type: 'null'}, <the rest>]`. With a `type`, Ajv understands `nullable` itself.
 */
function openApiNullable<T>(node: T): T {
  if (Array.isArray(node)) return node.map(openApiNullable) as T;
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = openApiNullable(v);
  if (out.nullable === true && out.type === undefined) {
    delete out.nullable;
    return { anyOf: [{ type: 'null' }, out] } as T;
  }
  return out as T;
}

export class OpenApi {
  private readonly ajv: Ajv;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(readonly spec: Spec) {
    this.ajv = new Ajv({ strict: false, allErrors: true });
    (addFormats as unknown as (a: Ajv) => void)(this.ajv);
    this.ajv.addSchema({ $id: 'github', components: { schemas: openApiNullable(spec.components.schemas) } });
  }

  /** The description; a devDependency, so its absence is an install error, not a reason to skip. */
  static load(): OpenApi {
    if (!specDir) throw new Error('@octokit/openapi is not installed: run npm ci');
    return new OpenApi(JSON.parse(readFileSync(join(specDir, 'generated/api.github.com.json'), 'utf8')) as Spec);
  }

  private compile(key: string, schema: unknown): ValidateFunction {
    let v = this.cache.get(key);
    if (!v) {
      const rewritten = openApiNullable(
        JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"github#/components/')),
      );
      v = this.ajv.compile(rewritten);
      this.cache.set(key, v);
    }
    return v;
  }

  /** Whether the operation documents `status`, and the JSON schema of that answer if it has one. */
  response(path: string, method: string, status: number): { documented: boolean; schema?: unknown } {
    const op = this.spec.paths[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`${method} ${path} is not in the OpenAPI description`);
    let r = op.responses[String(status)];
    if (!r) return { documented: false };
    if (r.$ref) r = this.spec.components.responses[r.$ref.split('/').pop()!]!;
    const content = r.content as Record<string, { schema?: unknown }> | undefined;
    return { documented: true, schema: content?.['application/json']?.schema };
  }

  /** Validation errors of `body` as the `status` answer of `method path` (empty when it conforms). */
  check(path: string, method: string, status: number, body: unknown): string[] {
    const { documented, schema } = this.response(path, method, status);
    if (!documented) return [`${method} ${path} does not document status ${status}`];
    if (!schema) return [];
    return this.errors(this.compile(`${method} ${path} ${status}`, schema), body);
  }

  /** Validation errors of `body` against `components/schemas/{name}`. */
  checkSchema(name: string, body: unknown): string[] {
    return this.errors(this.compile(name, { $ref: `#/components/schemas/${name}` }), body);
  }

  /** Validation errors of a webhook payload against `x-webhooks/{name}` (e.g. `pull-request-closed`). */
  checkWebhook(name: string, body: unknown): string[] {
    const hook = this.spec['x-webhooks'][name];
    if (!hook) return [`${name} is not in x-webhooks`];
    return this.errors(
      this.compile(`webhook ${name}`, hook.post.requestBody.content['application/json']!.schema),
      body,
    );
  }

  private errors(v: ValidateFunction, body: unknown): string[] {
    return v(body) ? [] : (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`);
  }
}
