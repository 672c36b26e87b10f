import { createHash, randomInt } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Db } from './users.ts';

/**
 * The local stand-in for Auth's outgoing mail: every message is one JSON line in
 * `${runtimeDir}/mailbox.jsonl` (mode 0600). Links and codes never go to a log.
 */
export interface Mail {
  to: string;
  type: 'signup' | 'email_change';
  subject: string;
  /** Six-digit code for `verifyOtp({ email, token, type })`. */
  otp: string;
  /** Hash for `verifyOtp({ token_hash, type })`, and the `token` of the link. */
  token_hash: string;
  /** The confirmation link (GET /auth/v1/verify …), as the email template's ConfirmationURL. */
  link: string;
  sent_at: string;
}

/** How long a confirmation link or code stays valid (hosted default: one hour). */
export const OTP_TTL_SECONDS = 3600;

/** GoTrue's token hash: sha224 over email + code, hex. */
export function tokenHash(email: string, otp: string): string {
  return createHash('sha224')
    .update(email + otp)
    .digest('hex');
}

export class Mailbox {
  readonly file: string;

  constructor(
    runtimeDir: string,
    private readonly issuer: string,
  ) {
    this.file = join(runtimeDir, 'mailbox.jsonl');
  }

  private compose(to: string, type: Mail['type'], redirectTo: string | undefined) {
    const otp = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const hash = tokenHash(to, otp);
    const query = new URLSearchParams({ token: hash, type });
    if (redirectTo) query.set('redirect_to', redirectTo);
    const mail: Mail = {
      to,
      type,
      subject: type === 'signup' ? 'Confirm Your Signup' : 'Confirm Email Change',
      otp,
      token_hash: hash,
      link: `${this.issuer}/verify?${query.toString()}`,
      sent_at: new Date().toISOString(),
    };
    return mail;
  }

  /** Stores a new confirmation token on the user and returns the mail to deliver after commit. */
  async confirmation(db: Db, userId: string, email: string, redirectTo?: string): Promise<Mail> {
    const mail = this.compose(email, 'signup', redirectTo);
    await db`
      update auth.users set confirmation_token = ${mail.token_hash}, confirmation_sent_at = now()
      where id = ${userId}`;
    return mail;
  }

  /** Stores a pending email change and returns the mail to the new address. */
  async emailChange(db: Db, userId: string, newEmail: string, redirectTo?: string): Promise<Mail> {
    const mail = this.compose(newEmail, 'email_change', redirectTo);
    await db`
      update auth.users
      set email_change = ${newEmail}, email_change_token_new = ${mail.token_hash}, email_change_sent_at = now(),
          updated_at = now()
      where id = ${userId}`;
    return mail;
  }

  deliver(mail: Mail): void {
    appendFileSync(this.file, JSON.stringify(mail) + '\n', { mode: 0o600 });
  }
}
