// Builds the web UI (web/) into bin/web, beside the bundled binary that serves it. `npx vite` alone serves the UI
// in development and proxies the API to a running master (DOCKER_MIGRATE_DEV_MASTER, default 127.0.0.1:8080).
import tailwindcss from '@tailwindcss/vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('./web', import.meta.url)),
  base: '/',
  plugins: [react(), tailwindcss()],
  build: {
    outDir: fileURLToPath(new URL('./bin/web', import.meta.url)),
    emptyOutDir: true,
    sourcemap: false,
  },
  server: {
    proxy: { '/api': { target: process.env.DOCKER_MIGRATE_DEV_MASTER ?? 'http://127.0.0.1:8080' } },
  },
});
