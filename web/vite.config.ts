import { defineConfig } from 'vite';
import solid from 'vite-plugin-solid';

// Run from the repository root as `vite build web` (the root is this folder).
export default defineConfig({
  plugins: [solid()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
});
