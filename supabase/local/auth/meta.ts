import type { Handler } from './context.ts';
import { discardBody, sendJson } from './http.ts';

/** `GET /.well-known/jwks.json`: the public ES256 key only (HMAC secrets are never published). */
export const jwks: Handler = async (req, res, _url, auth) => {
  await discardBody(req);
  sendJson(res, 200, { keys: [auth.tokens.keys.publicJwk] }, { 'cache-control': 'public, max-age=600' });
};

export const health: Handler = async (req, res) => {
  await discardBody(req);
  sendJson(res, 200, {
    version: 'sam-local',
    name: 'GoTrue',
    description: 'GoTrue is a user registration and authentication API',
  });
};

/** `GET /settings`: what the Auth server offers (GoTrue's shape). */
export const settings: Handler = async (req, res, _url, auth) => {
  await discardBody(req);
  sendJson(res, 200, {
    external: {
      anonymous_users: false,
      apple: false,
      azure: false,
      bitbucket: false,
      discord: false,
      email: true,
      facebook: false,
      figma: false,
      github: auth.github !== undefined,
      gitlab: false,
      google: false,
      keycloak: false,
      kakao: false,
      linkedin_oidc: false,
      notion: false,
      phone: false,
      saml: false,
      slack_oidc: false,
      spotify: false,
      twitch: false,
      twitter: false,
      workos: false,
      zoom: false,
    },
    disable_signup: false,
    mailer_autoconfirm: !auth.emailConfirmation,
    phone_autoconfirm: false,
    sms_provider: '',
    saml_enabled: false,
  });
};
