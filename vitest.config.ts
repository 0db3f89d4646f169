// Two tiers: `unit` (fast, no root; root-only cases skip with a reason) and `e2e` (root, lab cluster).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{lib,ztunnel,cni,waypoint,controller,cli,bench,scripts,charts}/**/*.test.ts'],
          exclude: ['**/node_modules/**', '**/build/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts'],
          exclude: ['**/node_modules/**'],
          // One lab per machine: suites run one file at a time.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 1_200_000,
        },
      },
    ],
  },
});
