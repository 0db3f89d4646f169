// Certificates that outlive their lifetime (root, lab): the controller runs with a 4 s serving
// certificate and 6 s workload certificates. Over the test the 15012 certificate and the ztunnels'
// workload certificates are renewed several times, the ztunnels' xDS streams stay the same streams,
// and traffic keeps flowing over HBONE with the renewed certificates.
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, up } from '../lab/lab.ts';
import { pollUntil } from '../lab/poll.ts';
import type { LabState } from '../lab/state.ts';
import { LabMesh } from '../ztunnel/lab-mesh.ts';
import { requireRoot, talk } from '../ztunnel/netns-harness.ts';
import { deploySleepEcho } from '../lab/sleep-echo.ts';

const NS = 'life-a';

interface CertDump { certificates: { identity: string; state: string; certChain: { serialNumber: string }[] }[] }
interface XdsDump { connections: { id: string; node: string | null }[] }

/** Serial of the certificate a fresh TLS handshake to the controller's 15012 is served. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2'] }, () => {
      const serial = s.getPeerX509Certificate()?.serialNumber;
      s.destroy();
      serial ? resolve(serial) : reject(new Error('no peer certificate'));
    });
    s.on('error', reject);
  });
}

describe('short-lived certificates are renewed without dropping streams or traffic (root)', () => {
  let lab: LabState;
  let mesh: LabMesh;
  let pair: Awaited<ReturnType<typeof deploySleepEcho>>;

  beforeAll(async () => {
    requireRoot('e2e/controller/cert-lifetime.test.ts');
    lab = await up({ nodes: 2 });
    mesh = await LabMesh.start(lab, { controller: true, controllerEnv: { ISTIOD_SERVING_CERT_TTL: '4s', MAX_WORKLOAD_CERT_TTL: '6s' } });
    pair = await deploySleepEcho(lab, NS);
  }, 240_000);

  afterAll(async () => {
    await mesh?.stop();
    await down();
  }, 120_000);

  it('renews the 15012 and workload certificates several times while streams and traffic continue', async () => {
    const ctl = mesh.controller();
    const xdsStreams = async () => (JSON.parse(await (await fetch(`http://127.0.0.1:${ctl.ports.monitoring}/debug/connections`)).text()) as XdsDump).connections.map((c) => c.id).sort();
    const { sleepNetns: sleepNs, echoId } = pair;
    const echoIp = () => pair.echoIp;
    expect(await pollUntil('a first reply over HBONE', async () => ((await talk(sleepNs, echoIp(), 9000, 'hello')) === 'hello' ? true : undefined), { timeoutMs: 20_000 })).toBe(true);
    const streamsBefore = await xdsStreams();
    expect(streamsBefore.length).toBeGreaterThanOrEqual(2);

    const servingSerials = new Set<string>();
    const echoSerials = new Set<string>();
    const replies: string[] = [];
    let n = 0;
    await pollUntil('three renewals of each certificate', async () => {
      servingSerials.add(await servedSerial(ctl.ports.grpcTls));
      const dump = JSON.parse(await mesh.admin('node2', '/config_dump')) as CertDump;
      const echo = dump.certificates.find((c) => c.identity === echoId && c.state === 'Available');
      if (echo?.certChain[0]) echoSerials.add(echo.certChain[0].serialNumber);
      // New connections keep working across every renewal.
      replies.push(await talk(sleepNs, echoIp(), 9000, `m${++n}`));
      return servingSerials.size >= 4 && echoSerials.size >= 4 ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 500 });

    expect(replies).toEqual(replies.map((_, i) => `m${i + 1}`));
    // The ztunnels' xDS streams are the ones opened before the renewals (ids carry a sequence number).
    expect(await xdsStreams()).toEqual(streamsBefore);
    const metrics = await (await fetch(`http://127.0.0.1:${ctl.ports.monitoring}/metrics`)).text();
    const renewed = Number(/^pilot_serving_cert_renewals_total\{result="success"\} (\d+)$/m.exec(metrics)?.[1] ?? 0);
    expect(renewed).toBeGreaterThanOrEqual(3);
  }, 120_000);
});
