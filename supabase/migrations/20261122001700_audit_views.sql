-- Control plane, part 17: lineage views for audits (sql/audit/ holds the same queries for psql).
-- security_invoker: whoever reads a view sees only what RLS lets them see.

-- Every task with its tree: root, depth in the tree, and how it came to be.
create or replace view public.task_lineage with (security_invoker = true) as
with recursive tree as (
  select t.id as task_id, t.id as root_task_id, 0 as tree_depth, array[t.id] as path
    from public.tasks t where t.parent_task_id is null
  union all
  select c.id, tree.root_task_id, tree.tree_depth + 1, tree.path || c.id
    from public.tasks c join tree on c.parent_task_id = tree.task_id
   where not c.id = any(tree.path)
)
select tree.root_task_id, tree.task_id, t.parent_task_id, t.source_task_id, tree.tree_depth, t.dispatch_depth,
       t.triggered_by, t.task_mode,
       case when t.triggered_by = 'retry' then 'retry'
            when t.triggered_by = 'fork' then 'fork'
            when t.parent_task_id is not null then 'sub-task'
            else 'root' end as classification,
       t.project_id, t.title, t.status, t.execution_step, t.branch, t.pr_url, t.dispatched_by_agent_session_id,
       t.created_at, t.completed_at, tree.path
  from tree join public.tasks t on t.id = tree.task_id;

-- One row per thing that happened to a task: its status/step events, its workspace, agent
-- sessions and questions, and its chat messages.
create or replace view public.task_timeline with (security_invoker = true) as
select e.task_id, e.created_at as at, 'task'::text as source, coalesce(e.to_status::text, '') as state,
       e.from_status::text || coalesce(' / ' || e.from_step::text, '') as from_state,
       e.to_status::text || coalesce(' / ' || e.to_step::text, '') as to_state,
       e.actor_type::text as actor_type, e.actor_id, e.reason as detail, e.id as seq
  from public.task_events e
union all
select x.task_id, l.created_at, l.entity::text, l.to_state, l.from_state, l.to_state, l.actor_type::text, l.actor_id,
       l.reason, l.id
  from public.lifecycle_events l
  join (select id, task_id from public.workspaces where task_id is not null
        union all select id, task_id from public.agent_sessions where task_id is not null
        union all select id, task_id from public.human_input_requests where task_id is not null) x on x.id = l.entity_id
union all
select c.task_id, m.created_at, 'message', m.role::text, null, null, m.origin, m.message_id, left(m.content, 200), m.id
  from public.messages m join public.chat_sessions c on c.id = m.session_id;

-- What each agent dispatched: the agent session, the task it worked on, and each child it created.
create or replace view public.agent_dispatches with (security_invoker = true) as
select a.id as agent_session_id, a.task_id as dispatcher_task_id, a.agent_type, a.workspace_id,
       c.id as child_task_id, c.title as child_title, c.status as child_status, c.dispatch_depth, c.triggered_by,
       c.branch as child_branch, c.pr_url as child_pr_url, c.created_at as dispatched_at, c.completed_at
  from public.tasks c join public.agent_sessions a on a.id = c.dispatched_by_agent_session_id;

revoke all on public.task_lineage, public.task_timeline, public.agent_dispatches from anon, authenticated;
grant select on public.task_lineage, public.task_timeline, public.agent_dispatches to service_role;
grant select on public.task_lineage, public.task_timeline, public.agent_dispatches to authenticated;
