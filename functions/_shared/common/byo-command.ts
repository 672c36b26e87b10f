/**
 * The one command a user pastes on a Linux machine with Node to bring it to SAM ("Add a machine"):
 * it downloads the vm-agent bundle from the control plane, checks its sha256 against the one in the
 * command (the command is the trust anchor, not the server's header), and runs the bundle's
 * `install` with the one-time token in the environment (not argv): bootstrap.json 0600, then a user
 * service (vm-agent/bundle/install.ts). POSIX sh; needs curl, sha256sum and node ≥ 20.
 * Plain data in, a string out: the web app, Deno and Node all import this file.
 */
export interface ByoCommandInput {
  /** `${SUPABASE_URL}/functions/v1`, as the machine reaches it. */
  functionsUrl: string;
  bootstrapToken: string;
  /** The bundle's sha256 (lowercase hex). */
  sha256: string;
}

const SAFE_URL = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~%/+-]*)?$/;

export function byoInstallCommand(input: ByoCommandInput): string {
  const base = input.functionsUrl.replace(/\/+$/, '');
  if (!SAFE_URL.test(base)) throw new Error('the functions URL cannot be put into a command');
  if (!/^[A-Za-z0-9_-]{16,200}$/.test(input.bootstrapToken)) throw new Error('not a bootstrap token');
  if (!/^[0-9a-f]{64}$/.test(input.sha256)) throw new Error('not a sha256');
  const part = '"$d/vm-agent.mjs.part"';
  return [
    'd="${XDG_DATA_HOME:-$HOME/.local/share}/sam-vm-agent"',
    'mkdir -p "$d"',
    `curl -fsSL '${base}/vm-agent/bundle?sha256=${input.sha256}' -o ${part}`,
    `echo "${input.sha256}  $d/vm-agent.mjs.part" | sha256sum -c -`,
    `mv ${part} "$d/vm-agent.mjs"`,
    `SAM_BOOTSTRAP_TOKEN='${input.bootstrapToken}' node "$d/vm-agent.mjs" install --control-plane '${base}/vm-agent'`,
  ].join(' && ');
}
