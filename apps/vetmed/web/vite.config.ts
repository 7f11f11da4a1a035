import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { precompress } from './precompress-plugin.js';

const webDir = fileURLToPath(new URL('.', import.meta.url));

/**
 * The web client's build: `vite build --config web/vite.config.ts` writes hashed files to
 * `dist/web`, which the app's own server serves at `/` (`src/server/web-assets.ts`). `vite
 * --config web/vite.config.ts` is a dev server with hot reload that forwards the API to an app
 * already running on port 3000 (`pnpm dev`); production has no second server.
 */
export default defineConfig({
  root: webDir,
  plugins: [react(), precompress()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // Every asset is a file of its own: the pages' Content-Security-Policy allows no `data:` URL.
    assetsInlineLimit: 0,
    target: 'es2022',
  },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:3000',
      '/metrics': 'http://127.0.0.1:3000',
    },
  },
});
