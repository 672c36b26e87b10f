-- Cards: permission requests (asked by the workspace, answered once by the owner, closed by the
-- workspace or the sweep), budgets (pause at a limit before a turn, turns counted once, continue
-- above what is used, stop), a dispatched child's inherited budget, and a directive that becomes a
-- prompt for the task's live agent and counts as delivered once the machine took it.
begin;
\ir _fixtures.psql
select plan(37);

-- Permission requests ------------------------------------------------------------------------------
create temp table r (id uuid);
insert into r select (pg_temp.run_as('workspace W1', $$select public.request_agent_permission(
  '77777777-0000-0000-0000-000000000001', '{"toolCallId": "call-1-edit", "title": "Append a line to README.md",
  "toolKind": "edit", "detail": "README.md"}') ->> 'requestId'$$))::uuid;
select isnt((select id from r), null, 'workspace W1 asks for its agent session');
select is(pg_temp.run_as('same-node workspace W2', $$select public.request_agent_permission(
  '77777777-0000-0000-0000-000000000001', '{"title": "x"}')::text$$),
  'ERROR 42501: not allowed to ask for agent session 77777777-0000-0000-0000-000000000001',
  'another workspace may not ask for it');
select is((select tool_metadata ->> 'kind' from public.messages where message_id = 'permission:' || (select id from r)),
  'permission_request', 'the card is in the chat');
select is((select type::text from public.notifications where dedupe_key = 'permission:' || (select id from r)),
  'needs_input', 'the owner is notified');
select is(pg_temp.run_as('other user', format($$select public.answer_permission_request(%L, 'allow_once')::text$$, (select id from r))),
  format('ERROR 42501: not allowed to answer permission request %s', (select id from r)), 'another user may not answer');
select is(pg_temp.run_as('owner', format($$select public.answer_permission_request(%L, 'maybe')::text$$, (select id from r))),
  'ERROR 22023: an answer is allow_once, allow_always or reject', 'an unknown answer is refused');
select is(pg_temp.run_as('owner', format($$select public.answer_permission_request(%L, 'allow_always')::text$$, (select id from r))),
  'true', 'the owner answers');
select is(pg_temp.run_as('owner', format($$select public.answer_permission_request(%L, 'allow_always')::text$$, (select id from r))),
  'false', 'the same answer again changes nothing');
select matches(pg_temp.run_as('owner', format($$select public.answer_permission_request(%L, 'reject')::text$$, (select id from r))),
  '^ERROR 55000: permission request .* is already allowed always$', 'another answer is refused');
select is((select payload ->> 'decision' from public.node_commands where kind = 'permission_answer'
            and node_id = '33333333-0000-0000-0000-000000000001'), 'allow_always', 'the machine is told');
select is((select count(*)::int from public.lifecycle_events where entity = 'permission_request' and entity_id = (select id from r)),
  2, 'an event per transition');
select is(pg_temp.run_as('workspace W1', format($$select public.close_permission_request(%L, 'timed_out')::text$$, (select id from r))),
  'false', 'an answered request does not time out');

-- A second request nobody answers: the sweep times it out once it expired.
delete from r;
insert into r select (pg_temp.run_as('workspace W1', $$select public.request_agent_permission(
  '77777777-0000-0000-0000-000000000001', '{"title": "Run the tests"}') ->> 'requestId'$$))::uuid;
select is(public.sweep_permission_requests(), 0, 'nothing to sweep before the expiry');
set local sam.now = '2100-01-01 00:00:00+00';
select is(public.sweep_permission_requests(), 5, 'past the expiry the pending requests time out (the fixture''s four too)');
select is((select status from public.permission_requests where id = (select id from r)), 'timed_out', 'timed out');
select matches((select content from public.messages where message_id = 'permission:' || (select id from r) || ':outcome'),
  '^No answer within 00:10:00, so the agent was refused: Run the tests$', 'the chat says so');
select matches(pg_temp.run_as('owner', format($$select public.answer_permission_request(%L, 'allow_once')::text$$, (select id from r))),
  '^ERROR 55000: permission request .* is already timed out$', 'a late answer is refused');
reset sam.now;

-- Budgets -------------------------------------------------------------------------------------------
delete from public.task_budgets;
insert into public.project_settings (project_id, key, value) values
  ('22222222-0000-0000-0000-000000000001', 'task_max_turns', '2'),
  ('22222222-0000-0000-0000-000000000001', 'task_max_tokens', '1000');
select is(pg_temp.run_as('workspace W1', $$select public.agent_budget_check('77777777-0000-0000-0000-000000000001') ->> 'paused'$$),
  'false', 'within its budget the turn goes');
select is(pg_temp.run_as('workspace W1', $$select public.record_agent_turn('77777777-0000-0000-0000-000000000001',
  '{"seq": 1, "wallMs": 1500, "tokens": 400}') -> 'used' ->> 'turns'$$), '1', 'a turn is counted');
select is(pg_temp.run_as('workspace W1', $$select public.record_agent_turn('77777777-0000-0000-0000-000000000001',
  '{"seq": 1, "wallMs": 1500, "tokens": 400}') -> 'used' ->> 'tokens'$$), '400', 'a re-sent report counts once');
select is(pg_temp.run_as('other-project workspace W3', $$select public.record_agent_turn('77777777-0000-0000-0000-000000000001',
  '{"seq": 2, "wallMs": 1}')::text$$),
  'ERROR 42501: not allowed to report turns of agent session 77777777-0000-0000-0000-000000000001', 'another workspace may not');
select is(pg_temp.run_as('workspace W1', $$select public.record_agent_turn('77777777-0000-0000-0000-000000000001',
  '{"seq": 2, "wallMs": 500, "tokens": 100}') -> 'used' ->> 'turns'$$), '2', 'the second turn');
select is(pg_temp.run_as('workspace W1', $$select public.agent_budget_check('77777777-0000-0000-0000-000000000001') ->> 'reason'$$),
  'the budget of 2 agent turns is used', 'at the limit the next turn pauses');
select is((select count(*)::int from public.notifications where type = 'budget_reached'), 1, 'budget_reached notifies once');
select is(pg_temp.run_as('workspace W1', $$select public.agent_budget_check('77777777-0000-0000-0000-000000000001') ->> 'pause'$$),
  '1', 'asking again does not pause twice');
select is(pg_temp.run_as('other user', $$select public.continue_task_budget('44444444-0000-0000-0000-000000000001', '{"turns": 5}')::text$$),
  'ERROR 42501: not allowed to act on task 44444444-0000-0000-0000-000000000001', 'another user may not continue');
select is(pg_temp.run_as('owner', $$select public.continue_task_budget('44444444-0000-0000-0000-000000000001', '{"turns": 2}')::text$$),
  'ERROR 22023: the new limits leave nothing to spend: the budget of 2 agent turns is used', 'a new limit must leave room');
select is(pg_temp.run_as('owner', $$select public.continue_task_budget('44444444-0000-0000-0000-000000000001', '{"turns": 5}')::text$$),
  'true', 'the owner continues with a new limit');
select is(pg_temp.run_as('owner', $$select public.continue_task_budget('44444444-0000-0000-0000-000000000001', '{"turns": 5}')::text$$),
  'false', 'continuing again changes nothing');
select is((select count(*)::int from public.node_commands where kind = 'resume_agent'), 1, 'the machine is told to resume');

-- A dispatched child inherits what is left (5 - 2 turns; 1000 - 500 tokens), never more than its own.
update public.project_settings set value = '100' where key = 'task_max_turns';
select is(pg_temp.run_as('agent A1', $$select public.dispatch_task('write the docs', '{}') ->> 'status'$$), 'queued',
  'the agent dispatches a child');
select is((select jsonb_build_array(b.max_turns, b.max_tokens, b.inherited_from) from public.task_budgets b
            join public.tasks t on t.id = b.task_id where t.parent_task_id = '44444444-0000-0000-0000-000000000001'),
  '[3, 500, "44444444-0000-0000-0000-000000000001"]'::jsonb, 'the child inherits the remaining budget');

-- Directives reach the live agent as a prompt; delivered once the machine took it.
select isnt(pg_temp.run_as('owner', $$select public.send_directive('44444444-0000-0000-0000-000000000001', 'message', 'also the FAQ')::text$$),
  null, 'the owner sends a directive');
select is((select payload ->> 'content' from public.node_commands where kind = 'prompt' and payload ? 'directiveId'),
  'A message from your parent task: also the FAQ', 'a prompt for the live agent');
update public.node_commands set status = 'done' where kind = 'prompt' and payload ? 'directiveId';
select isnt((select delivered_at from public.directives where content = 'also the FAQ'), null,
  'taken by the machine, the directive is delivered (get_pending_messages does not hand it out again)');

select is(pg_temp.run_as('owner', $$select (public.send_directive('44444444-0000-0000-0000-000000000001', 'stop_warning',
  'the plan changed') is not null)::text$$), 'true', 'a stop warning is sent');
select is((select payload ->> 'content' from public.node_commands where kind = 'prompt' and payload ->> 'content' like 'Your parent%'),
  E'Your parent task is stopping this task: the plan changed\n\nWrap up now: save your work and finish.',
  'stop_subtask''s warning reaches the agent as a prompt too');

select * from finish();
rollback;
