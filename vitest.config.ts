import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources (the "@tensorized/source" export
// condition), so tests need no build.
const conditions = ['@tensorized/source', 'import', 'module', 'node', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    reporters: ['default', './vitest.summary.ts'],
    projects: ['packages/*', 'tooling/*', 'apps/*'].map((glob) => ({
      extends: true,
      test: {
        name: { label: glob.split('/')[0]! },
        include: [`${glob}/src/**/*.test.ts`],
        setupFiles: ['./tooling/test-utils/src/setup.ts'],
        testTimeout: 60_000,
        hookTimeout: 60_000,
      },
    })),
  },
});
