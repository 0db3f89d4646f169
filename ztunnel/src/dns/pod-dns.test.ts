// The shared DNS catalog follows the state: service changes and changes of workloads behind
// VIP-less services reach it; policy-only batches and workloads behind VIP services do not.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log/logger.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import type { StateChange } from '../state/change.ts';
import { policy, service, workload } from '../state/fixtures.ts';
import { ProxyState } from '../state/proxy-state.ts';
import { catalogAffected, dnsProxyDeps } from './pod-dns.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function deps(state: ProxyState) {
  const dir = mkdtempSync(join(tmpdir(), 'pod-dns-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 127.0.0.53\n');
  return dnsProxyDeps({ state, registry: new Registry(), network: '', resolvConfPath: join(dir, 'resolv.conf'), address: { host: '127.0.0.1', port: 15053 }, log: createLogger({ component: 'test', level: 'silent' }) });
}

const HEADLESS = 'prod/sts.prod.svc.cluster.local';
const VIP = 'prod/web.prod.svc.cluster.local';

function seeded(): ProxyState {
  const s = new ProxyState();
  s.batch(() => {
    s.upsertService(service({ name: 'sts', namespace: 'prod', vips: [] }));
    s.upsertService(service({ name: 'web', namespace: 'prod', vip: '10.96.0.10' }));
    s.upsertWorkload(workload({ name: 'sts-0', namespace: 'prod', ip: '10.0.0.5', services: { [HEADLESS]: { 80: 8080 } } }));
    s.upsertWorkload(workload({ name: 'web-0', namespace: 'prod', ip: '10.0.0.7', services: { [VIP]: { 80: 8080 } } }));
  });
  return s;
}

describe('DNS catalog and state changes', () => {
  it('follows endpoint changes of a VIP-less service and service changes', () => {
    const s = seeded();
    const d = deps(s);
    expect(d.catalog().get('sts.prod.svc.cluster.local')).toEqual(['10.0.0.5']);
    s.upsertWorkload(workload({ name: 'sts-1', namespace: 'prod', ip: '10.0.0.6', services: { [HEADLESS]: { 80: 8080 } } }));
    expect(d.catalog().get('sts.prod.svc.cluster.local')).toEqual(['10.0.0.5', '10.0.0.6']);
    // Removed from the service: the previous workload still counts.
    s.upsertWorkload(workload({ name: 'sts-0', namespace: 'prod', ip: '10.0.0.5' }));
    expect(d.catalog().get('sts.prod.svc.cluster.local')).toEqual(['10.0.0.6']);
    s.upsertService(service({ name: 'web', namespace: 'prod', vip: '10.96.0.11' }));
    expect(d.catalog().get('web.prod.svc.cluster.local')).toEqual(['10.96.0.11']);
  });

  it('policy-only batches and workloads behind VIP services leave the catalog alone', () => {
    const s = seeded();
    const seen: StateChange[] = [];
    s.onChange((c) => seen.push(c));
    s.upsertPolicy(policy({ name: 'p', namespace: 'prod' }));
    s.upsertWorkload(workload({ name: 'web-1', namespace: 'prod', ip: '10.0.0.8', services: { [VIP]: { 80: 8080 } } }));
    s.upsertWorkload(workload({ name: 'loner', namespace: 'prod', ip: '10.0.0.9' }));
    s.upsertWorkload(workload({ name: 'sts-0', namespace: 'prod', ip: '10.0.0.50', services: { [HEADLESS]: { 80: 8080 } } }));
    expect(seen.map((c) => catalogAffected(s, c))).toEqual([false, false, false, true]);
  });
});
