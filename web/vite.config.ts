import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';
import { serviceWorker } from './pwa.ts';

// Run from the repository root as `vite build web` (the root is this folder).
export default defineConfig({
  plugins: [solid(), serviceWorker()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
});
