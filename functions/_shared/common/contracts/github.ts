/**
 * The `github` edge function's contract: linking GitHub App installations after proof, picking a
 * repository for a project. Shared by the function and the web app.
 *
 *   GET    /github/install-url                          → { url }
 *   POST   /github/installations        LinkRequest     → LinkedInstallation   (the Setup URL's step)
 *   GET    /github/installations                        → { installations: LinkedInstallation[] }
 *   DELETE /github/installations/:installationId        → 204
 *   GET    /github/installations/:installationId/repositories?page&perPage → RepositoryPage
 *   PUT    /github/projects/:projectId/repository  AttachRequest → AttachedRepository
 */
import { z } from 'zod';

const InstallationId = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER);

/**
 * The installation the Setup URL named (spoofable, so it is only a claim) and the proof: the
 * GitHub user access token from the GitHub sign-in (`providerToken`), or an OAuth `code` the
 * function exchanges itself (with the `redirectUri` it was issued for).
 */
export const LinkRequest = z
  .object({
    installationId: InstallationId,
    providerToken: z.string().min(1).max(2048).optional(),
    code: z.string().min(1).max(512).optional(),
    redirectUri: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
  })
  .strict()
  .refine((r) => (r.providerToken ? 1 : 0) + (r.code ? 1 : 0) === 1, {
    message: 'give either providerToken or code',
    path: ['providerToken'],
  });
export type LinkRequest = z.infer<typeof LinkRequest>;

export const LinkedInstallation = z
  .object({
    installationId: z.number().int(),
    accountLogin: z.string(),
    accountType: z.string(),
    repositorySelection: z.enum(['all', 'selected']),
    linkedAt: z.string(),
  })
  .strict();
export type LinkedInstallation = z.infer<typeof LinkedInstallation>;

export const InstallationList = z.object({ installations: z.array(LinkedInstallation) }).strict();
export type InstallationList = z.infer<typeof InstallationList>;

export const RepositoryPageQuery = z
  .object({
    page: z.coerce.number().int().min(1).max(1000).default(1),
    perPage: z.coerce.number().int().min(1).max(100).default(30),
  })
  .strict();

export const PickableRepository = z
  .object({
    id: z.number().int(),
    fullName: z.string(),
    private: z.boolean(),
    defaultBranch: z.string(),
    htmlUrl: z.string(),
  })
  .strict();
export type PickableRepository = z.infer<typeof PickableRepository>;

export const RepositoryPage = z
  .object({
    repositories: z.array(PickableRepository),
    page: z.number().int(),
    perPage: z.number().int(),
    totalCount: z.number().int(),
    hasNext: z.boolean(),
  })
  .strict();
export type RepositoryPage = z.infer<typeof RepositoryPage>;

export const AttachRequest = z
  .object({ installationId: InstallationId, repositoryId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER) })
  .strict();
export type AttachRequest = z.infer<typeof AttachRequest>;

export const AttachedRepository = z
  .object({
    projectId: z.uuid(),
    installationId: z.number().int(),
    repositoryId: z.number().int(),
    fullName: z.string(),
    repository: z.string(),
    defaultBranch: z.string(),
  })
  .strict();
export type AttachedRepository = z.infer<typeof AttachedRepository>;

export const InstallUrl = z.object({ url: z.string() }).strict();
