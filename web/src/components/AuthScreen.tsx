import { createResource, createSignal, Show } from 'solid-js';
import { githubSignInEnabled, signInWithGitHub } from '../stores/github-auth.ts';
import { session, signIn, signUp } from '../stores/session.ts';

type Mode = 'sign-in' | 'sign-up';

export function AuthScreen() {
  const [mode, setMode] = createSignal<Mode>('sign-in');
  const [email, setEmail] = createSignal('');
  const [password, setPassword] = createSignal('');
  const [busy, setBusy] = createSignal(false);
  const [error, setError] = createSignal<string | null>(session.startupNotice());
  const [notice, setNotice] = createSignal<string | null>(null);

  const onSubmit = async (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      if (mode() === 'sign-in') {
        const problem = await signIn(email(), password());
        if (problem) setError(problem);
      } else {
        const result = await signUp(email(), password());
        if (result.kind === 'error') setError(result.message);
        else if (result.kind === 'confirm-email') {
          setNotice(`Check your email: we sent a confirmation link to ${email()}. Open it, then sign in.`);
          setMode('sign-in');
        }
      }
    } finally {
      setBusy(false);
    }
  };

  const [github] = createResource(githubSignInEnabled);

  const withGitHub = async () => {
    setBusy(true);
    setError(null);
    const problem = await signInWithGitHub();
    if (problem) {
      setError(problem);
      setBusy(false);
    }
  };

  const switchMode = () => {
    setMode(mode() === 'sign-in' ? 'sign-up' : 'sign-in');
    setError(null);
  };

  return (
    <section class="card auth" aria-labelledby="auth-title">
      <h1 id="auth-title">{mode() === 'sign-in' ? 'Sign in to SAM' : 'Create your SAM account'}</h1>
      <form onSubmit={(e) => void onSubmit(e)}>
        <label>
          Email
          <input
            type="email"
            name="email"
            autocomplete="email"
            required
            value={email()}
            onInput={(e) => setEmail(e.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            type="password"
            name="password"
            autocomplete={mode() === 'sign-in' ? 'current-password' : 'new-password'}
            minLength={6}
            required
            value={password()}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <Show when={error()}>
          <p class="error" role="alert">
            {error()}
          </p>
        </Show>
        <Show when={notice()}>
          <p class="notice" role="status">
            {notice()}
          </p>
        </Show>
        <button type="submit" class="primary" disabled={busy()}>
          {mode() === 'sign-in' ? 'Sign in' : 'Sign up'}
        </button>
      </form>
      <Show when={github()}>
        <button type="button" class="github" disabled={busy()} onClick={() => void withGitHub()}>
          Sign in with GitHub
        </button>
      </Show>
      <p class="muted">
        {mode() === 'sign-in' ? 'New here?' : 'Already have an account?'}{' '}
        <button type="button" class="link" onClick={switchMode}>
          {mode() === 'sign-in' ? 'Create an account' : 'Sign in instead'}
        </button>
      </p>
    </section>
  );
}
