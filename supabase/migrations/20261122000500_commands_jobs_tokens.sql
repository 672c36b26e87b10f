-- Control plane, part 5: node command queue, orchestrator jobs, notifications, credentials
-- (ciphertext only), tokens (jti, kind, scope, expiry, revocation) and human-input requests.

create table if not exists public.node_commands (
  id uuid primary key default extensions.gen_random_uuid(),
  node_id uuid not null references public.nodes (id) on delete cascade,
  owner_id uuid not null,
  workspace_id uuid references public.workspaces (id) on delete cascade,
  kind text not null check (kind in ('create_workspace', 'stop_workspace', 'start_agent', 'prompt',
    'cancel_prompt', 'stop_agent', 'shutdown')),
  payload jsonb not null default '{}',
  status public.node_command_status not null default 'pending',
  dedupe_key text unique,
  result jsonb,
  created_at timestamptz not null default public.sam_now(),
  delivered_at timestamptz,
  completed_at timestamptz
);
create index if not exists node_commands_open_idx on public.node_commands (node_id, created_at)
  where status in ('pending', 'delivered');
create index if not exists node_commands_owner_idx on public.node_commands (owner_id);

create table if not exists public.orchestrator_jobs (
  id uuid primary key default extensions.gen_random_uuid(),
  kind text not null check (kind in ('provision_node', 'destroy_node', 'open_pr', 'generate_title', 'notify')),
  owner_id uuid,
  project_id uuid references public.projects (id) on delete cascade,
  task_id uuid references public.tasks (id) on delete set null,
  node_id uuid references public.nodes (id) on delete set null,
  payload jsonb not null default '{}',
  status public.job_status not null default 'pending',
  attempts integer not null default 0,
  max_attempts integer not null default 5,
  run_after timestamptz not null default public.sam_now(),
  locked_until timestamptz,
  last_error text,
  dedupe_key text unique,
  created_at timestamptz not null default public.sam_now(),
  updated_at timestamptz not null default public.sam_now(),
  finished_at timestamptz
);
create index if not exists orchestrator_jobs_due_idx on public.orchestrator_jobs (run_after) where status = 'pending';
create index if not exists orchestrator_jobs_lease_idx on public.orchestrator_jobs (locked_until) where status = 'running';

create table if not exists public.notifications (
  id uuid primary key default extensions.gen_random_uuid(),
  owner_id uuid not null references auth.users (id) on delete cascade,
  project_id uuid references public.projects (id) on delete cascade,
  task_id uuid references public.tasks (id) on delete cascade,
  type public.notification_type not null,
  urgency public.urgency not null,
  title text not null check (length(title) <= 80),
  body text not null default '' check (length(body) <= 500),
  metadata jsonb not null default '{}',
  dedupe_key text unique,
  read_at timestamptz,
  created_at timestamptz not null default public.sam_now()
);
create index if not exists notifications_owner_idx on public.notifications (owner_id, created_at desc);

-- Secrets arrive encrypted (AES-256-GCM, by the credentials edge function); there is no plaintext column.
create table if not exists public.credentials (
  id uuid primary key default extensions.gen_random_uuid(),
  owner_id uuid not null references auth.users (id) on delete cascade,
  project_id uuid references public.projects (id) on delete cascade,
  provider text not null check (length(provider) between 1 and 64),
  credential_type text not null check (credential_type in ('cloud-provider', 'agent-api-key')),
  agent_type text,
  ciphertext bytea not null check (octet_length(ciphertext) > 16),
  iv bytea not null check (octet_length(iv) = 12),
  key_version integer not null default 1,
  is_active boolean not null default true,
  created_at timestamptz not null default public.sam_now(),
  updated_at timestamptz not null default public.sam_now()
);
create index if not exists credentials_owner_idx on public.credentials (owner_id, provider);

-- Node, workspace and agent JWTs are signed by SAM's key; this row is what makes one valid.
-- Bootstrap tokens are opaque and stored only as a SHA-256 hash.
create table if not exists public.tokens (
  jti uuid primary key default extensions.gen_random_uuid(),
  kind public.token_kind not null,
  owner_id uuid not null references auth.users (id) on delete cascade,
  project_id uuid references public.projects (id) on delete cascade,
  node_id uuid references public.nodes (id) on delete cascade,
  workspace_id uuid references public.workspaces (id) on delete cascade,
  agent_session_id uuid references public.agent_sessions (id) on delete cascade,
  task_id uuid references public.tasks (id) on delete cascade,
  token_hash bytea unique,
  issued_at timestamptz not null default public.sam_now(),
  expires_at timestamptz not null,
  max_expires_at timestamptz,
  used_at timestamptz,
  revoked_at timestamptz,
  revoked_reason text,
  constraint tokens_scope check (case kind
    when 'bootstrap' then node_id is not null and token_hash is not null
    when 'node' then node_id is not null and token_hash is null
    when 'workspace' then workspace_id is not null and node_id is not null and project_id is not null and token_hash is null
    when 'agent' then agent_session_id is not null and workspace_id is not null and project_id is not null and token_hash is null
  end)
);
create index if not exists tokens_node_idx on public.tokens (node_id) where node_id is not null;
create index if not exists tokens_workspace_idx on public.tokens (workspace_id) where workspace_id is not null;
create index if not exists tokens_agent_session_idx on public.tokens (agent_session_id) where agent_session_id is not null;
create index if not exists tokens_task_idx on public.tokens (task_id) where task_id is not null;
create index if not exists tokens_owner_idx on public.tokens (owner_id);

create table if not exists public.human_input_requests (
  id uuid primary key default extensions.gen_random_uuid(),
  project_id uuid not null references public.projects (id) on delete cascade,
  owner_id uuid not null references auth.users (id) on delete cascade,
  task_id uuid references public.tasks (id) on delete cascade,
  chat_session_id uuid references public.chat_sessions (id) on delete cascade,
  agent_session_id uuid references public.agent_sessions (id) on delete set null,
  category text not null default 'clarification' check (category in ('decision', 'clarification', 'approval', 'error_help')),
  context text not null check (length(context) between 1 and 4000),
  options jsonb not null default '[]' check (jsonb_typeof(options) = 'array' and jsonb_array_length(options) <= 10),
  status public.human_input_status not null default 'pending',
  answer text check (answer is null or length(answer) <= 16000),
  answered_by uuid,
  created_at timestamptz not null default public.sam_now(),
  expires_at timestamptz not null,
  answered_at timestamptz
);
create index if not exists human_input_pending_idx on public.human_input_requests (expires_at) where status = 'pending';
create index if not exists human_input_project_idx on public.human_input_requests (project_id, created_at desc);
create index if not exists human_input_agent_idx on public.human_input_requests (agent_session_id) where agent_session_id is not null;
create index if not exists human_input_owner_idx on public.human_input_requests (owner_id);
