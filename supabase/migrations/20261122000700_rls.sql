-- Control plane, part 7: row-level security on every table, and explicit grants (public has no
-- default privileges). Transitions are SECURITY DEFINER functions; direct writes exist only where
-- a policy below allows them. Identity helpers are wrapped in (select …) so they run once per query.

do $$
declare t text;
begin
  foreach t in array array['settings', 'projects', 'project_settings', 'tasks', 'task_events', 'nodes',
    'workspaces', 'lifecycle_events', 'chat_sessions', 'agent_sessions', 'messages', 'node_commands',
    'orchestrator_jobs', 'notifications', 'credentials', 'tokens', 'human_input_requests'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on public.%I from anon, authenticated, sam_node, sam_workspace, sam_agent', t);
    execute format('grant all on public.%I to service_role', t);
  end loop;
end $$;

-- Users --------------------------------------------------------------------------------------
grant select, insert, delete on public.projects to authenticated;
grant update (name, repository, repo_provider, default_branch, default_agent_type, default_provider,
  default_vm_size, default_workspace_profile, default_location) on public.projects to authenticated;
drop policy if exists "Owners can read their projects" on public.projects;
create policy "Owners can read their projects" on public.projects for select to authenticated
  using (owner_id = (select auth.uid()));
drop policy if exists "Users can create projects they own" on public.projects;
create policy "Users can create projects they own" on public.projects for insert to authenticated
  with check (owner_id = (select auth.uid()));
drop policy if exists "Owners can edit their projects" on public.projects;
create policy "Owners can edit their projects" on public.projects for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
drop policy if exists "Owners can delete their projects" on public.projects;
create policy "Owners can delete their projects" on public.projects for delete to authenticated
  using (owner_id = (select auth.uid()));

grant select, insert, update, delete on public.project_settings to authenticated;
drop policy if exists "Owners can manage their project's setting overrides" on public.project_settings;
create policy "Owners can manage their project's setting overrides" on public.project_settings for all to authenticated
  using (project_id in (select id from public.projects where owner_id = (select auth.uid())))
  with check (project_id in (select id from public.projects where owner_id = (select auth.uid())));

-- Ideas are tasks in draft/ready a user writes directly; everything else moves through functions.
grant select on public.tasks to authenticated;
grant insert (project_id, owner_id, title, description, priority, status, task_mode) on public.tasks to authenticated;
grant update (title, description, priority) on public.tasks to authenticated;
drop policy if exists "Members can read their project's tasks" on public.tasks;
create policy "Members can read their project's tasks" on public.tasks for select to authenticated
  using (owner_id = (select auth.uid()));
drop policy if exists "Owners can write ideas into their projects" on public.tasks;
create policy "Owners can write ideas into their projects" on public.tasks for insert to authenticated
  with check (owner_id = (select auth.uid()) and status in ('draft', 'ready')
    and project_id in (select id from public.projects where owner_id = (select auth.uid())));
drop policy if exists "Owners can edit their ideas" on public.tasks;
create policy "Owners can edit their ideas" on public.tasks for update to authenticated
  using (owner_id = (select auth.uid()) and status in ('draft', 'ready'))
  with check (owner_id = (select auth.uid()));

do $$
declare t text;
begin
  foreach t in array array['task_events', 'nodes', 'workspaces', 'lifecycle_events', 'chat_sessions',
    'agent_sessions', 'messages', 'node_commands', 'human_input_requests'] loop
    execute format('grant select on public.%I to authenticated', t);
    execute format('drop policy if exists %I on public.%I', 'Owners can read their own ' || replace(t, '_', ' '), t);
    execute format('create policy %I on public.%I for select to authenticated using (owner_id = (select auth.uid()))',
      'Owners can read their own ' || replace(t, '_', ' '), t);
  end loop;
end $$;
grant update (topic) on public.chat_sessions to authenticated;
drop policy if exists "Owners can rename their chat sessions" on public.chat_sessions;
create policy "Owners can rename their chat sessions" on public.chat_sessions for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));

grant select, delete on public.notifications to authenticated;
grant update (read_at) on public.notifications to authenticated;
drop policy if exists "Users can read their notifications" on public.notifications;
create policy "Users can read their notifications" on public.notifications for select to authenticated
  using (owner_id = (select auth.uid()));
drop policy if exists "Users can mark their notifications read" on public.notifications;
create policy "Users can mark their notifications read" on public.notifications for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
drop policy if exists "Users can delete their notifications" on public.notifications;
create policy "Users can delete their notifications" on public.notifications for delete to authenticated
  using (owner_id = (select auth.uid()));

-- Credentials: metadata only; the ciphertext is for the credentials function (service_role).
grant select (id, owner_id, project_id, provider, credential_type, agent_type, key_version, is_active,
  created_at, updated_at) on public.credentials to authenticated;
grant delete on public.credentials to authenticated;
drop policy if exists "Users can see which credentials they stored" on public.credentials;
create policy "Users can see which credentials they stored" on public.credentials for select to authenticated
  using (owner_id = (select auth.uid()));
drop policy if exists "Users can delete their credentials" on public.credentials;
create policy "Users can delete their credentials" on public.credentials for delete to authenticated
  using (owner_id = (select auth.uid()));

-- Nodes: their own row and their own command queue, nothing of any workspace ----------------
grant select on public.nodes, public.node_commands to sam_node;
drop policy if exists "Nodes can read their own row" on public.nodes;
create policy "Nodes can read their own row" on public.nodes for select to sam_node
  using (id = (select public.current_node_id()));
drop policy if exists "Nodes can read their own commands" on public.node_commands;
create policy "Nodes can read their own commands" on public.node_commands for select to sam_node
  using (node_id = (select public.current_node_id()));

-- Workspaces: that workspace's row, task, sessions and messages --------------------------------
grant select on public.workspaces, public.tasks, public.chat_sessions, public.agent_sessions,
  public.messages to sam_workspace;
drop policy if exists "Workspaces can read their own row" on public.workspaces;
create policy "Workspaces can read their own row" on public.workspaces for select to sam_workspace
  using (id = (select public.current_workspace_id()));
drop policy if exists "Workspaces can read their own task" on public.tasks;
create policy "Workspaces can read their own task" on public.tasks for select to sam_workspace
  using (workspace_id = (select public.current_workspace_id()));
drop policy if exists "Workspaces can read their own chat sessions" on public.chat_sessions;
create policy "Workspaces can read their own chat sessions" on public.chat_sessions for select to sam_workspace
  using (workspace_id = (select public.current_workspace_id()));
drop policy if exists "Workspaces can read their own agent sessions" on public.agent_sessions;
create policy "Workspaces can read their own agent sessions" on public.agent_sessions for select to sam_workspace
  using (workspace_id = (select public.current_workspace_id()));
drop policy if exists "Workspaces can read their own sessions' messages" on public.messages;
create policy "Workspaces can read their own sessions' messages" on public.messages for select to sam_workspace
  using (session_id in (select id from public.chat_sessions where workspace_id = (select public.current_workspace_id())));

-- Agents: read within their project (MCP awareness tools); write only through functions -------
grant select on public.projects, public.tasks, public.task_events, public.chat_sessions, public.messages,
  public.agent_sessions, public.human_input_requests to sam_agent;
drop policy if exists "Agents can read their project" on public.projects;
create policy "Agents can read their project" on public.projects for select to sam_agent
  using (id = (select public.current_agent_project_id()));
drop policy if exists "Agents can read their project's tasks" on public.tasks;
create policy "Agents can read their project's tasks" on public.tasks for select to sam_agent
  using (project_id = (select public.current_agent_project_id()));
drop policy if exists "Agents can read their project's task events" on public.task_events;
create policy "Agents can read their project's task events" on public.task_events for select to sam_agent
  using (project_id = (select public.current_agent_project_id()));
drop policy if exists "Agents can read their project's chat sessions" on public.chat_sessions;
create policy "Agents can read their project's chat sessions" on public.chat_sessions for select to sam_agent
  using (project_id = (select public.current_agent_project_id()));
drop policy if exists "Agents can read their project's messages" on public.messages;
create policy "Agents can read their project's messages" on public.messages for select to sam_agent
  using (project_id = (select public.current_agent_project_id()));
drop policy if exists "Agents can read their own agent session" on public.agent_sessions;
create policy "Agents can read their own agent session" on public.agent_sessions for select to sam_agent
  using (id = (select public.current_agent_session_id()));
drop policy if exists "Agents can read the questions they asked" on public.human_input_requests;
create policy "Agents can read the questions they asked" on public.human_input_requests for select to sam_agent
  using (agent_session_id = (select public.current_agent_session_id()));

-- settings, orchestrator_jobs and tokens have no policy: only service_role and the functions.

-- Functions: nobody executes anything unless granted below or in later migrations.
revoke execute on all functions in schema public from public, anon;
grant execute on function public.sam_now(), public.sam_role(), public.sam_caller(), public.sam_claim(text),
  public.sam_claim_uuid(text), public.sam_token(public.token_kind), public.current_user_id(),
  public.current_node_id(), public.current_workspace_id(), public.current_agent_session_id(),
  public.current_agent_project_id(), public.current_agent_task_id(), public.sam_actor_id(),
  public.is_terminal(public.task_status), public.is_active(public.task_status), public.is_terminal(public.node_status),
  public.is_live(public.node_status), public.is_terminal(public.workspace_status),
  public.is_terminal(public.agent_session_status), public.is_terminal(public.human_input_status),
  public.is_terminal(public.job_status)
  to authenticated, sam_node, sam_workspace, sam_agent, service_role;
