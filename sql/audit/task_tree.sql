-- A task's whole tree: every task under the same root, with depth and how each came to be
-- (root, sub-task, retry, fork). Also the view public.task_lineage.
-- psql -v task_id=<uuid> -f sql/audit/task_tree.sql
with recursive up as (
  select id, parent_task_id from public.tasks where id = :'task_id'
  union all
  select t.id, t.parent_task_id from public.tasks t join up on t.id = up.parent_task_id
), root as (select id from up where parent_task_id is null),
tree as (
  select t.id, 0 as depth, array[t.id] as path from public.tasks t where t.id = (select id from root)
  union all
  select c.id, tree.depth + 1, tree.path || c.id from public.tasks c join tree on c.parent_task_id = tree.id
   where not c.id = any(tree.path)
)
select repeat('  ', tree.depth) || t.title as task, tree.depth, t.dispatch_depth,
       case when t.triggered_by = 'retry' then 'retry' when t.triggered_by = 'fork' then 'fork'
            when t.parent_task_id is not null then 'sub-task' else 'root' end as classification,
       t.triggered_by, t.task_mode, t.status, t.execution_step, t.branch, t.pr_url, t.id, t.source_task_id, t.created_at
  from tree join public.tasks t on t.id = tree.id
 order by tree.path;
