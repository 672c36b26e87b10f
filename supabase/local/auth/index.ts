import type { IncomingMessage, ServerResponse } from 'node:http';
import postgres from 'postgres';
import type { ServiceFactory } from '../service.ts';
import type { Service, StackContext } from '../service.ts';
import { createUser, deleteUserById, getUserById, listUsers, updateUserById } from './admin.ts';
import type { AuthContext, Handler } from './context.ts';
import { AuthError, sendError } from './http.ts';
import { authorize, callback } from './external.ts';
import { Mailbox } from './mailer.ts';
import { health, jwks, settings } from './meta.ts';
import { resend, signup } from './signup.ts';
import { token } from './token.ts';
import { getUser, logout, updateUser } from './user.ts';
import { verifyGet, verifyPost } from './verify.ts';

const PREFIX = '/auth/v1';

interface Route {
  method: string;
  path: string | RegExp;
  handler: Handler;
}

const ADMIN_USER = /^\/admin\/users\/[^/]+$/;

const ROUTES: Route[] = [
  { method: 'POST', path: '/signup', handler: signup },
  { method: 'POST', path: '/resend', handler: resend },
  { method: 'POST', path: '/token', handler: token },
  { method: 'GET', path: '/authorize', handler: authorize },
  { method: 'GET', path: '/callback', handler: callback },
  { method: 'GET', path: '/user', handler: getUser },
  { method: 'PUT', path: '/user', handler: updateUser },
  { method: 'POST', path: '/logout', handler: logout },
  { method: 'GET', path: '/verify', handler: verifyGet },
  { method: 'POST', path: '/verify', handler: verifyPost },
  { method: 'POST', path: '/admin/users', handler: createUser },
  { method: 'GET', path: '/admin/users', handler: listUsers },
  { method: 'GET', path: ADMIN_USER, handler: getUserById },
  { method: 'PUT', path: ADMIN_USER, handler: updateUserById },
  { method: 'DELETE', path: ADMIN_USER, handler: deleteUserById },
  { method: 'GET', path: '/.well-known/jwks.json', handler: jwks },
  { method: 'GET', path: '/health', handler: health },
  { method: 'GET', path: '/settings', handler: settings },
];

export interface AuthServiceOptions {
  /** Seconds a rotated refresh token may be presented again without tripping reuse detection (hosted: 10). */
  refreshTokenReuseInterval?: number;
}

/**
 * The GoTrue-compatible Auth subset behind `/auth/v1` (what supabase-js calls), storing users in the
 * database's `auth` schema as `supabase_auth_admin`.
 */
export function authService(options: AuthServiceOptions = {}): ServiceFactory {
  return async (ctx: StackContext): Promise<Service> => {
    const sql = postgres(ctx.databaseUrl('supabase_auth_admin'), {
      max: 4,
      onnotice: () => {},
      connection: { application_name: 'sam-local-auth' },
    });
    await sql`select 1 from auth.users limit 0`;
    const auth: AuthContext = {
      sql,
      tokens: {
        keys: ctx.keys,
        jwtExpiry: ctx.options.jwtExpiry,
        refreshTokenReuseInterval: options.refreshTokenReuseInterval ?? 10,
      },
      mailbox: new Mailbox(ctx.runtimeDir, ctx.keys.issuer),
      emailConfirmation: ctx.options.emailConfirmation,
      siteUrl: ctx.url,
      apiUrl: ctx.url,
      github: ctx.options.authGitHub,
    };

    async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const url = new URL(req.url ?? '/', ctx.url);
      const path = url.pathname.slice(PREFIX.length).replace(/\/+$/, '') || '/';
      const matches = ROUTES.filter((r) => (typeof r.path === 'string' ? r.path === path : r.path.test(path)));
      const route = matches.find((r) => r.method === req.method);
      try {
        if (!route) {
          req.resume();
          if (matches.length > 0) throw new AuthError(405, 'method_not_allowed', 'Method Not Allowed');
          throw new AuthError(404, 'not_found', 'Not Found');
        }
        await route.handler(req, res, url, auth);
      } catch (e) {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (e instanceof AuthError) return sendError(res, e);
        sendError(res, new AuthError(500, 'unexpected_failure', 'Unexpected failure, please check server logs'));
        console.error('[auth]', e);
      }
    }

    return {
      name: 'auth',
      prefix: PREFIX,
      handle,
      async health() {
        await sql`select 1`;
        return true;
      },
      async close() {
        await sql.end({ timeout: 5 });
      },
    };
  };
}

/** The Auth service with hosted defaults. */
export const auth: ServiceFactory = authService();
