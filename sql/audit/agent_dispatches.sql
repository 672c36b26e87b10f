-- What each agent dispatched: per agent session, the task it worked on and every child it
-- created, with the child's outcome. Also the view public.agent_dispatches.
-- psql -v project_id=<uuid> -f sql/audit/agent_dispatches.sql
select d.agent_session_id, d.agent_type, d.dispatcher_task_id, p.title as dispatcher_title, d.child_task_id,
       d.child_title, d.child_status, d.dispatch_depth, d.triggered_by, d.child_branch, d.child_pr_url,
       d.dispatched_at, d.completed_at
  from public.agent_dispatches d
  join public.tasks p on p.id = d.dispatcher_task_id
 where p.project_id = :'project_id'
 order by d.dispatched_at;
