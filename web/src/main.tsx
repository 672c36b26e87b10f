import { render } from 'solid-js/web';
import { App } from './App.tsx';
import { registerServiceWorker } from './lib/pwa.ts';
import './styles.css';

render(() => <App />, document.getElementById('root')!);
registerServiceWorker();
