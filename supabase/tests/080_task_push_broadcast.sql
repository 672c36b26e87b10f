-- The push of a task's branch reaches the chat: a task broadcast when the branch, the PR url or
-- the git push evidence change, carrying `pushed` and `commitSha`; other changes stay quiet.
begin;
\ir _fixtures.psql
select plan(6);

delete from realtime.messages;
update public.tasks set priority = 9 where id = '44444444-0000-0000-0000-000000000001';
select is((select count(*)::int from realtime.messages), 0, 'a priority change is not broadcast');

update public.tasks set completion_evidence = '{"gitPush":{"pushed":true,"commitSha":"abc1234","branchName":"sam/x"}}',
       branch = 'sam/x'
 where id = '44444444-0000-0000-0000-000000000001';
select is((select count(*)::int from realtime.messages where topic = 'project:22222222-0000-0000-0000-000000000001' and event = 'task'), 1,
  'a recorded push is one broadcast on the project topic');
select is((select (payload ->> 'pushed') || ' ' || (payload ->> 'commitSha') || ' ' || (payload ->> 'branch')
             from realtime.messages where topic = 'project:22222222-0000-0000-0000-000000000001' and event = 'task'),
  'true abc1234 sam/x', 'carrying pushed, the commit and the pushed branch');
select is((select count(*)::int from realtime.messages where topic = 'session:66666666-0000-0000-0000-000000000001' and event = 'task'), 1,
  'and on the session topic');

delete from realtime.messages;
update public.tasks set completion_evidence = completion_evidence || '{"filesChanged":["README.md"]}'
 where id = '44444444-0000-0000-0000-000000000001';
select is((select count(*)::int from realtime.messages), 0, 'evidence other than the push is not broadcast');

update public.tasks set pr_url = 'https://github.com/o/r/pull/3' where id = '44444444-0000-0000-0000-000000000001';
select is((select payload ->> 'prUrl' from realtime.messages where event = 'task' and topic like 'project:%'),
  'https://github.com/o/r/pull/3', 'a PR url is broadcast');

select * from finish();
rollback;
