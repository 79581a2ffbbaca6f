// Vite builds the console into ui/dist, which the Tauri shell loads (frontendDist
// "../ui/dist"; devUrl http://localhost:5173). vitest shares this file.
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';

export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  // Keep Vite's and vitest's caches in ui/node_modules, whatever the working directory.
  cacheDir: fileURLToPath(new URL('./node_modules/.vite', import.meta.url)),
  server: {
    // The Tauri shell's devUrl is http://localhost:5173.
    port: 5173,
    strictPort: true,
    host: 'localhost',
    // Tests read the contract's example policy from ../examples; the app reads nothing
    // outside ui/.
    fs: process.env.VITEST ? { allow: ['.', '../examples'] } : undefined,
  },
  preview: {
    port: 4173,
    strictPort: true,
    host: '127.0.0.1',
  },
  envPrefix: ['VITE_', 'TAURI_ENV_'],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // WebKitGTK / WKWebView / WebView2 of the Tauri v2 supported platforms.
    target: ['es2022', 'safari15', 'chrome105'],
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.ts'],
    restoreMocks: true,
  },
});
