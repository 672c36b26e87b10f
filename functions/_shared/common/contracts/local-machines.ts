/**
 * The HTTP contract of the local machine host (`local-machines/`, "the local cloud"):
 * the `local` provider of the orchestrator creates, lists and deletes machines through it. Both
 * sides import these zod schemas. Every request carries `Authorization: Bearer <token>`; errors
 * are `{ error: { code, message } }`.
 *
 *   POST   /machines                     CreateMachineRequest → 201 Machine
 *   GET    /machines?label=k=v[&label=…] → ListMachinesResponse (machines carrying every label)
 *   DELETE /machines/:id                 → 204 (a machine already gone is 204 too)
 *
 * Pure TypeScript on purpose: Deno (edge function) and Node (the host, tests) both import it.
 */
import { z } from 'zod';

/** Label keys and values as clouds accept them (Hetzner: ≤ 63 characters, alphanumerics, `-_.`). */
const LabelKey = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/, 'an invalid label key');
const LabelValue = z.string().regex(/^([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/, 'an invalid label value');
export const Labels = z.record(LabelKey, LabelValue).refine((l) => Object.keys(l).length <= 20, 'at most 20 labels');
export type Labels = z.infer<typeof Labels>;

/** What cloud-init would carry to the machine: where to register, and the one-time token to do it with. */
export const MachineUserData = z
  .object({
    controlPlaneUrl: z.url({ protocol: /^https?$/ }),
    bootstrapToken: z.string().min(1).max(200),
  })
  .strict();
export type MachineUserData = z.infer<typeof MachineUserData>;

export const CreateMachineRequest = z
  .object({
    name: z
      .string()
      .min(1)
      .max(63)
      .regex(/^[A-Za-z0-9][A-Za-z0-9-]*$/, 'a machine name is letters, digits and dashes'),
    vmSize: z.enum(['small', 'medium', 'large']).optional(),
    labels: Labels,
    userData: MachineUserData,
  })
  .strict();
export type CreateMachineRequest = z.infer<typeof CreateMachineRequest>;

export const MachineStatus = z.enum(['running', 'stopping', 'exited']);
export type MachineStatus = z.infer<typeof MachineStatus>;

export const Machine = z
  .object({
    id: z.string().min(1).max(200),
    name: z.string(),
    labels: Labels,
    status: MachineStatus,
    pid: z.number().int().nullable(),
    exitCode: z.number().int().nullable().optional(),
    ipAddress: z.string().optional(),
    createdAt: z.iso.datetime({ offset: true }),
  })
  .strict();
export type Machine = z.infer<typeof Machine>;

export const ListMachinesResponse = z.object({ machines: z.array(Machine) }).strict();
export type ListMachinesResponse = z.infer<typeof ListMachinesResponse>;

/** `?label=k=v` query values, parsed. */
export function parseLabelQuery(values: readonly string[]): Labels {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    if (eq <= 0) throw new Error(`a label filter is key=value, not ${JSON.stringify(value)}`);
    labels[value.slice(0, eq)] = value.slice(eq + 1);
  }
  return Labels.parse(labels);
}

/** Labels as `?label=k=v&label=…`. */
export function labelQuery(labels: Labels): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(labels)) params.append('label', `${k}=${v}`);
  const q = params.toString();
  return q ? `?${q}` : '';
}
