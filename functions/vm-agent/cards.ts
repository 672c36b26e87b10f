/**
 * The card routes of `/vm-agent/sessions` (same workspace token and body limit as the rest of
 * sessions.ts, which mounts them): an agent's permission requests and its task's budget.
 *
 *   POST /:id/permission-requests              {toolCallId?, title, toolKind?, detail?} → {requestId, expiresAt, decision?}
 *   POST /:id/permission-requests/:rid/close   {outcome: timed_out | cancelled} → {changed}
 *   GET  /:id/budget                           → the budget; at a limit it pauses here (before a turn)
 *   POST /:id/turns                            {seq, wallMs, tokens?, stopReason?} → the budget
 *
 * The answers reach the machine as `permission_answer` / `resume_agent` commands on its long-poll.
 */
import type { Hono } from 'hono';
import {
  BudgetView,
  ClosePermissionBody,
  PermissionRequestBody,
  TurnReport,
} from '../_shared/common/contracts/cards.ts';
import { jsonBody } from '../_shared/http.ts';
import { asCaller } from '../_shared/vm-agent/identity.ts';
import { uuidParam, type Env, type VmAgentDeps } from './context.ts';

export function mountCardRoutes(app: Hono<Env>, deps: VmAgentDeps): void {
  const { sql } = deps;

  app.post('/:id/permission-requests', async (c) => {
    const id = uuidParam(c.req.param('id'), 'the agent session id');
    const body = await jsonBody(c, PermissionRequestBody);
    const [row] = await asCaller(
      sql,
      c.get('claims'),
      (tx) => tx`select public.request_agent_permission(${id}, ${tx.json(body)}) as r`,
    );
    const r = row!.r as { requestId: string; expiresAt: string; decision?: 'allow_always' };
    return c.json({
      requestId: r.requestId,
      expiresAt: new Date(r.expiresAt).toISOString(),
      ...(r.decision ? { decision: r.decision } : {}),
    });
  });

  app.post('/:id/permission-requests/:rid/close', async (c) => {
    uuidParam(c.req.param('id'), 'the agent session id');
    const rid = uuidParam(c.req.param('rid'), 'the permission request id');
    const body = await jsonBody(c, ClosePermissionBody);
    const [row] = await asCaller(
      sql,
      c.get('claims'),
      (tx) => tx`select public.close_permission_request(${rid}, ${body.outcome}) as r`,
    );
    return c.json({ changed: row!.r as boolean });
  });

  app.get('/:id/budget', async (c) => {
    const id = uuidParam(c.req.param('id'), 'the agent session id');
    const [row] = await asCaller(sql, c.get('claims'), (tx) => tx`select public.agent_budget_check(${id}) as r`);
    return c.json(BudgetView.parse(row!.r));
  });

  app.post('/:id/turns', async (c) => {
    const id = uuidParam(c.req.param('id'), 'the agent session id');
    const body = await jsonBody(c, TurnReport);
    const [row] = await asCaller(
      sql,
      c.get('claims'),
      (tx) => tx`select public.record_agent_turn(${id}, ${tx.json(body)}) as r`,
    );
    return c.json(BudgetView.parse(row!.r));
  });
}
