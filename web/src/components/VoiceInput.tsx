import { createSignal, onCleanup, Show } from 'solid-js';

/** The part of the Web Speech API this uses (Chromium ships it as `webkitSpeechRecognition`). */
interface Recognition {
  lang: string;
  continuous: boolean;
  interimResults: boolean;
  onresult:
    | ((event: {
        resultIndex: number;
        results: ArrayLike<ArrayLike<{ transcript: string }> & { isFinal?: boolean }>;
      }) => void)
    | null;
  onerror: ((event: { error?: string }) => void) | null;
  onend: (() => void) | null;
  start(): void;
  stop(): void;
  abort(): void;
}
type RecognitionClass = new () => Recognition;

/** The browser's speech recognition, or undefined where there is none. */
function recognitionClass(): RecognitionClass | undefined {
  const w = window as unknown as { SpeechRecognition?: RecognitionClass; webkitSpeechRecognition?: RecognitionClass };
  return w.SpeechRecognition ?? w.webkitSpeechRecognition;
}

const ERROR_WORDS: Record<string, string> = {
  'not-allowed': 'The microphone is blocked for this site. Allow it in the browser to speak your message.',
  'service-not-allowed': 'The microphone is blocked for this site. Allow it in the browser to speak your message.',
  'no-speech': 'No speech was heard. Try again.',
  'audio-capture': 'No microphone was found.',
  network: 'Speech recognition needs a network connection.',
};

/**
 * A microphone button for the composer, shown only where the browser can recognise speech: one
 * utterance is heard and its transcript handed to `onTranscript` (the composer appends it to the
 * message; nothing is sent until the user sends it).
 */
export function VoiceInput(props: { onTranscript: (text: string) => void; disabled?: boolean }) {
  const Recognition = recognitionClass();
  const [listening, setListening] = createSignal(false);
  const [problem, setProblem] = createSignal<string | null>(null);
  let current: Recognition | undefined;
  onCleanup(() => current?.abort());

  const toggle = () => {
    if (!Recognition) return;
    if (current) {
      current.stop();
      return;
    }
    setProblem(null);
    const recognition = new Recognition();
    recognition.lang = navigator.language || 'en-US';
    recognition.continuous = false;
    recognition.interimResults = false;
    recognition.onresult = (event) => {
      let text = '';
      for (let i = event.resultIndex; i < event.results.length; i++) text += event.results[i]?.[0]?.transcript ?? '';
      if (text.trim()) props.onTranscript(text.trim());
    };
    recognition.onerror = (event) => {
      if (event.error !== 'aborted') setProblem(ERROR_WORDS[event.error ?? ''] ?? 'Speech recognition stopped.');
    };
    recognition.onend = () => {
      current = undefined;
      setListening(false);
    };
    current = recognition;
    setListening(true);
    try {
      recognition.start();
    } catch {
      current = undefined;
      setListening(false);
      setProblem('Speech recognition could not start.');
    }
  };

  return (
    <Show when={Recognition !== undefined}>
      <span class="voice-input">
        <button
          type="button"
          class="mic"
          aria-label={listening() ? 'Stop listening' : 'Voice input'}
          aria-pressed={listening()}
          data-testid="voice-input"
          disabled={props.disabled}
          onClick={toggle}
        >
          <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
            <path
              fill="currentColor"
              d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3Zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11h-2Z"
            />
          </svg>
          <span class="mic-label">{listening() ? 'Listening…' : 'Speak'}</span>
        </button>
        <Show when={problem()}>
          <span class="error" role="alert">
            {problem()}
          </span>
        </Show>
      </span>
    </Show>
  );
}
