-- Everything that happened to one task, in order: status and step events, its workspace, agent
-- sessions and questions, and its chat messages. Also the view public.task_timeline.
-- psql -v task_id=<uuid> -f sql/audit/task_timeline.sql
select at, source, from_state, to_state, actor_type, actor_id, detail
  from public.task_timeline
 where task_id = :'task_id'
 order by at, source, seq;
