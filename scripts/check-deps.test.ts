import { describe, expect, it } from 'vitest';
import { findViolations, importsOf } from './check-deps.ts';

const R = new URL('..', import.meta.url).pathname.replace(/\/$/, '');

describe('check-deps', () => {
  it('reads relative imports, static and dynamic', () => {
    const deps = importsOf(`${R}/ztunnel/a.ts`, `import x from './b.ts';\nimport type { Y } from '../lib/y.ts';\nconst z = await import('./c.ts');\nimport pino from 'pino';`);
    expect(deps).toEqual([`${R}/ztunnel/b.ts`, `${R}/lib/y.ts`, `${R}/ztunnel/c.ts`]);
  });

  it('flags a component importing another component, and lib importing a component', () => {
    const graph = new Map([
      [`${R}/ztunnel/a.ts`, [`${R}/controller/b.ts`, `${R}/lib/ok.ts`]],
      [`${R}/lib/ok.ts`, [`${R}/cni/c.ts`]],
      [`${R}/e2e/t.ts`, [`${R}/ztunnel/a.ts`]],
    ]);
    const problems = findViolations(graph);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('ztunnel/a.ts imports controller/b.ts');
    expect(problems[1]).toContain('lib/ok.ts imports cni/c.ts');
  });

  it('flags cycles', () => {
    const graph = new Map([
      [`${R}/lib/a.ts`, [`${R}/lib/b.ts`]],
      [`${R}/lib/b.ts`, [`${R}/lib/a.ts`]],
    ]);
    expect(findViolations(graph)).toEqual(['import cycle: lib/a.ts -> lib/b.ts -> lib/a.ts']);
  });
});
