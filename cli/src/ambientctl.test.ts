// The CLI end to end in-process: command routing, global flags anywhere, exit codes, and
// ztunnel-config reading real admin servers on loopback (port 0) through AMBIENTCTL_ZTUNNEL_ADMIN.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main, splitCommand } from './ambientctl.ts';

const DUMP = readFileSync(new URL('./ztunnel/testdata/ambient-config-dump.json', import.meta.url), 'utf8');

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const code = await main(argv, { io: { out: (s) => void (out += s), err: (s) => void (err += s) }, env, now: () => Date.parse('2026-01-10T13:00:00Z') });
  return { code, out, err };
}

describe('command routing', () => {
  it('finds the command words among flags that take values', () => {
    expect(splitCommand(['-n', 'waypoint', 'waypoint', '--name', 'list', 'list', '-A'], 2)).toEqual({ words: ['waypoint', 'list'], rest: ['-n', 'waypoint', '--name', 'list', '-A'] });
    expect(splitCommand(['zc', '--wait', 'w', 'extra'], 2)).toEqual({ words: ['zc', 'w'], rest: ['--wait', 'extra'] });
  });

  it('prints help with exit 0 and refuses unknown commands with exit 1', async () => {
    expect((await run([])).out).toMatch(/^ambientctl: /);
    expect((await run(['waypoint', 'list', '--help'])).out).toMatch(/all-namespaces/);
    expect((await run(['zc', '--help'])).out).toMatch(/Not available on the lab cluster/);
    expect(await run(['mesh'])).toEqual({ code: 1, out: '', err: 'Error: unknown command "mesh" for "ambientctl"\n' });
    expect((await run(['zc', 'listeners'])).err).toBe('Error: unknown command "listeners" for "ambientctl ztunnel-config"\n');
  });

  it('generate takes global flags before the command', async () => {
    expect((await run(['-n', 'demo', 'waypoint', 'generate', '--name', 'w1'])).out).toMatch(/^ {2}name: w1\n {2}namespace: demo\n/m);
  });
});

describe('ztunnel-config against admin servers on loopback', () => {
  const servers: Server[] = [];
  const hits: string[] = [];
  let env: NodeJS.ProcessEnv;

  const serve = async (node: string, body: string) => {
    const s = createServer((req, res) => {
      hits.push(`${node} ${req.url}`);
      if (req.url !== '/config_dump') return void res.writeHead(404).end('not found');
      res.setHeader('content-type', 'application/json');
      res.end(body);
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    servers.push(s);
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };

  beforeAll(async () => {
    const node1 = await serve('node1', DUMP);
    const node2 = await serve('node2', JSON.stringify({ workloads: [], services: [], policies: [], certificates: [] }));
    env = { AMBIENTCTL_ZTUNNEL_ADMIN: `node1=${node1},node2=${node2}` };
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it('reads the first node without --node, the named one with it', async () => {
    hits.length = 0;
    const r = await run(['ztunnel-config', 'workloads'], env);
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe('NAMESPACE POD NAME            ADDRESS    NODE  WAYPOINT PROTOCOL');
    expect(r.out.split('\n')).toHaveLength(7);
    expect((await run(['zc', 'w', '--node', 'node2'], env)).out).toBe('NAMESPACE POD NAME ADDRESS NODE WAYPOINT PROTOCOL\n');
    expect(hits).toEqual(['node1 /config_dump', 'node2 /config_dump']);
  });

  it('services, policies, certificates and -o json/yaml, with filters', async () => {
    expect((await run(['zc', 'svc', '--service-namespace', 'default'], env)).out).toBe('NAMESPACE SERVICE NAME SERVICE VIP WAYPOINT ENDPOINTS\ndefault   kubernetes   10.96.0.1   None     0/0\n');
    expect((await run(['zc', 'policies'], env)).out.split('\n')[1]).toBe('app-b        allow-sleep                   Allow  WorkloadSelector');
    expect((await run(['zc', 'certs'], env)).out.split('\n')[1]).toMatch(/^spiffe:\/\/cluster\.local\/ns\/app-a\/sa\/sleep +Leaf +Available +true +e65306e2/);
    const json = await run(['zc', 'workloads', '-o', 'json', '--workload-namespace', 'app-a'], env);
    expect((JSON.parse(json.out) as { name: string }[]).map((w) => w.name)).toEqual(['sleep']);
    expect((await run(['zc', 'workloads', '--admin-address', env.AMBIENTCTL_ZTUNNEL_ADMIN!.split(',')[0]!.split('=')[1]!, '-o', 'yaml'])).out).toMatch(/^- canonicalName: sleep\n(.*\n)*  workloadIps:\n {2}- 10\.244\.1\.5\n/);
  });

  it('fails with exit 1 and istioctl\'s messages', async () => {
    expect(await run(['zc', 'workloads', '-o', 'xml'], env)).toEqual({ code: 1, out: '', err: 'Error: output format "xml" not supported\n' });
    expect((await run(['zc', 'workloads', '--node', 'node7'], env)).err).toBe('Error: no ztunnel admin address for node "node7" in AMBIENTCTL_ZTUNNEL_ADMIN (known: node1, node2)\n');
    expect((await run(['zc', 'workloads', '--admin-address', 'http://127.0.0.1:1'])).err).toMatch(/^Error: failed to execute command on ztunnel at http:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
    expect((await run(['zc', 'workloads', '-f', '/nonexistent/dump.json'])).err).toMatch(/^Error: ENOENT/);
  });
});
