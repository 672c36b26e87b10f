/**
 * The `credentials` edge function's contract: users store secrets write-only and see only what is
 * set. Shared by the function and the web chat.
 *
 *   GET    /credentials            → { credentials: CredentialSummary[] }
 *   PUT    /credentials            StoreCredentialRequest → CredentialSummary
 *   DELETE /credentials/:id        → 204
 */
import { z } from 'zod';

export const CREDENTIAL_TYPES = ['agent-api-key', 'cloud-provider', 'git-deploy'] as const;
export const CredentialType = z.enum(CREDENTIAL_TYPES);
export type CredentialType = z.infer<typeof CredentialType>;

/** Model vendors whose key an agent needs (OpenCode keeps its own provider config). */
export const AGENT_KEY_PROVIDERS = ['anthropic', 'openai', 'gemini', 'opencode'] as const;
export const CLOUD_PROVIDERS = ['hetzner', 'scaleway'] as const;

/** A git host name (with an optional port) for deploy credentials. */
const GitHost = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?$/, 'a host name such as git.example.com');

export const MAX_SECRET_LENGTH = 8192;

/**
 * A deploy credential's user name (`config.username`), sent with its secret over HTTPS; without
 * one the secret goes as a token (user name `x-access-token`).
 */
const DeployUsername = z.string().regex(/^[^\s:\u0000-\u001f\u007f]{1,255}$/);

const BaseUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .refine((u) => !/[\s]/.test(u), 'no whitespace');

/** Non-secret settings stored beside a credential (e.g. a Scaleway project id and zone). */
const Config = z
  .record(z.string().max(64), z.union([z.string().max(512), z.number(), z.boolean()]))
  .refine((c) => Object.keys(c).length <= 16, 'at most 16 settings');

export const StoreCredentialRequest = z
  .object({
    type: CredentialType,
    provider: z.string().min(1).max(64),
    /** Absent: the user's own credential; present: an override for one of their projects. */
    projectId: z.uuid().optional(),
    secret: z
      .string()
      .min(1)
      .max(MAX_SECRET_LENGTH)
      .refine((s) => s.trim() === s && s.length > 0, 'no leading or trailing whitespace'),
    baseUrl: BaseUrl.optional(),
    config: Config.optional(),
  })
  .strict()
  .superRefine((req, ctx) => {
    const known: Record<CredentialType, readonly string[] | null> = {
      'agent-api-key': AGENT_KEY_PROVIDERS,
      'cloud-provider': CLOUD_PROVIDERS,
      'git-deploy': null,
    };
    const list = known[req.type];
    if (req.type === 'git-deploy') {
      // git's credential protocol is line based: a newline would let a value say more than itself.
      if (/[\u0000-\u001f\u007f]/.test(req.secret)) {
        ctx.addIssue({ code: 'custom', path: ['secret'], message: 'no control characters or line breaks' });
      }
      const extra = Object.keys(req.config ?? {}).filter((k) => k !== 'username');
      const username = req.config?.username;
      if (extra.length > 0) {
        ctx.addIssue({ code: 'custom', path: ['config'], message: 'deploy credentials take only a username' });
      }
      if (username !== undefined && (typeof username !== 'string' || !DeployUsername.safeParse(username).success)) {
        ctx.addIssue({
          code: 'custom',
          path: ['config', 'username'],
          message: 'a user name without spaces, colons or control characters',
        });
      }
    }
    if (list ? !list.includes(req.provider) : !GitHost.safeParse(req.provider).success) {
      ctx.addIssue({
        code: 'custom',
        path: ['provider'],
        message: list ? `one of ${list.join(', ')}` : 'a host name such as git.example.com',
      });
    }
  });
export type StoreCredentialRequest = z.infer<typeof StoreCredentialRequest>;

/** What the browser may know of a stored credential: never the secret. */
export const CredentialSummary = z
  .object({
    id: z.uuid(),
    type: CredentialType,
    provider: z.string(),
    projectId: z.uuid().nullable(),
    /** The secret's last four characters ("set, ends in …1234"). */
    hint: z.string().max(4),
    baseUrl: z.string().nullable(),
    config: z.record(z.string(), z.unknown()),
    updatedAt: z.string(),
  })
  .strict();
export type CredentialSummary = z.infer<typeof CredentialSummary>;

export const CredentialList = z.object({ credentials: z.array(CredentialSummary) }).strict();
export type CredentialList = z.infer<typeof CredentialList>;

/** The last four characters a user is shown; short secrets show fewer, never more than a quarter. */
export function secretHint(secret: string): string {
  return secret.slice(-Math.min(4, Math.floor(secret.length / 4)));
}
