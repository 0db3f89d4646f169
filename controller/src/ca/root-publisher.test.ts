import { describe, expect, it } from 'vitest';
import { planRootConfigMaps } from './root-publisher.ts';

describe('planRootConfigMaps', () => {
  it('creates missing copies, fixes edited ones, skips terminating namespaces', () => {
    const existing = new Map([
      ['a', { namespace: 'a', data: { 'root-cert.pem': 'ROOT' } }],
      ['b', { namespace: 'b', data: { 'root-cert.pem': 'OLD' } }],
    ]);
    expect(planRootConfigMaps([
      { name: 'a', terminating: false }, { name: 'b', terminating: false }, { name: 'c', terminating: false }, { name: 'd', terminating: true },
    ], existing, 'ROOT')).toEqual([{ kind: 'update', namespace: 'b' }, { kind: 'create', namespace: 'c' }]);
  });
});
