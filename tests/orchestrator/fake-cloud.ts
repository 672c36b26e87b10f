import {
  ProviderError,
  type CreateMachineInput,
  type Labels,
  type Provider,
  type ProviderMachine,
} from '../../functions/_shared/providers/provider.ts';

/**
 * The one fake of the orchestrator tests: the third-party cloud, an in-memory "hetzner" account
 * that keeps what it was asked to create. Every machine has a creation time, as real clouds say.
 */
export type FakeMachine = ProviderMachine & { userData: CreateMachineInput['userData'] };

export class FakeCloud implements Provider {
  readonly name = 'hetzner';
  machines = new Map<string, FakeMachine>();
  created: CreateMachineInput[] = [];
  deleted: string[] = [];
  /** Words (a retryable failure) or the exact error the create throws. */
  failCreate: string | ProviderError | null = null;
  /** The cloud creates the machine, then the answer is lost (a timeout after it accepted). */
  loseCreateAnswer = false;
  /** When set, a create answers only once this settles (the machine exists meanwhile). */
  createGate: Promise<void> | null = null;
  /** When set, runs before a list answers (what happens elsewhere meanwhile). */
  beforeListAnswer: (() => Promise<void>) | null = null;

  async createMachine(input: CreateMachineInput) {
    this.created.push(input);
    if (this.failCreate) {
      throw typeof this.failCreate === 'string' ? new ProviderError('hetzner', this.failCreate) : this.failCreate;
    }
    const id = String(100000 + this.created.length);
    this.machines.set(id, {
      providerInstanceId: id,
      name: input.name,
      labels: input.labels,
      status: 'running',
      ipAddress: '203.0.113.7',
      createdAt: new Date().toISOString(),
      userData: input.userData,
    });
    if (this.createGate) await this.createGate;
    if (this.loseCreateAnswer) throw new ProviderError('hetzner', 'Hetzner did not answer within 30 s');
    return { providerInstanceId: id, ipAddress: '203.0.113.7' };
  }
  async deleteMachine(id: string) {
    this.deleted.push(id);
    this.machines.delete(id);
  }
  async listMachines(labels: Labels) {
    const listed = [...this.machines.values()].filter((m) =>
      Object.entries(labels).every(([k, v]) => m.labels[k] === v),
    );
    const meanwhile = this.beforeListAnswer;
    if (meanwhile) {
      this.beforeListAnswer = null;
      await meanwhile();
    }
    return listed;
  }

  /** A machine someone else put into the account (or SAM, long ago), created `ageMs` ago. */
  put(id: string, labels: Labels, ageMs: number | null = 60 * 60_000) {
    this.machines.set(id, {
      providerInstanceId: id,
      name: id,
      labels,
      status: 'running',
      ...(ageMs === null ? {} : { createdAt: new Date(Date.now() - ageMs).toISOString() }),
      userData: { controlPlaneUrl: 'https://elsewhere.example.test/functions/v1/vm-agent', bootstrapToken: 'x' },
    });
  }
}
