-- A model's title is written back unless a person renamed the task, and the chat hears of it.
begin;
\ir _fixtures.psql
select plan(6);

update public.tasks set description = 'Please add rate limiting to the upload endpoint so that one client cannot exhaust all of the workers at once',
       title = public.sam_initial_title('Please add rate limiting to the upload endpoint so that one client cannot exhaust all of the workers at once')
 where id = '44444444-0000-0000-0000-000000000001';
delete from realtime.messages;
select is(public.set_generated_title('44444444-0000-0000-0000-000000000001', '  Add   rate limiting to uploads '), true,
  'a generated title replaces the truncation');
select is((select t.title || ' | ' || s.topic from public.tasks t join public.chat_sessions s on s.id = t.chat_session_id
            where t.id = '44444444-0000-0000-0000-000000000001'),
  'Add rate limiting to uploads | Add rate limiting to uploads', 'on the task and its chat, whitespace folded');
select is((select count(*)::int from realtime.messages where event = 'task' and payload ->> 'title' = 'Add rate limiting to uploads'),
  2, 'broadcast on the project and the session topics');
select is(public.set_generated_title('44444444-0000-0000-0000-000000000001', 'Something else'), false,
  'a second title does not replace one that is no longer the truncation');
select throws_ok($$select public.set_generated_title('44444444-0000-0000-0000-000000000001', '   ')$$, '22023',
  'a generated title has 1 to 100 characters', 'an empty title is refused');
select is(pg_temp.run_as('owner', $$select public.set_generated_title('44444444-0000-0000-0000-000000000001', 'mine')::text$$),
  'ERROR 42501: permission denied for function set_generated_title', 'users cannot call it');

select * from finish();
rollback;
