// `make conformance`: Gateway API's MESH-HTTP and MESH-GRPC conformance profiles (sigs.k8s.io/gateway-api/conformance,
// pinned in e2e/lab/build-conformance.sh) against a lab of its own with the mesh installed by Helm, as
// Istio runs it in ambient mode: the suite's namespaces labelled `istio.io/dataplane-mode=ambient`,
// and a namespace waypoint (`ambientctl waypoint apply`) for gateway-conformance-mesh, which the
// suite's namespace labels enrol with `istio.io/use-waypoint=waypoint`. The suite drives its
// echo pods (lab/istio-echo) through `kubectl exec … client` (lab/istio-echo-client). The lab has no
// cluster DNS, so DNS capture is turned on for this run: ztunnel's DNS proxy answers the clients'
// look-ups of `echo`, `echo-v1`, … The report (ConformanceReport YAML) and the suite's full log go
// to <lab state root>/conformance/ (kept after `lab down`); the summary is printed; the lab goes down.
//
// Env: CONFORMANCE_PROFILES (default MESH-HTTP,MESH-GRPC); CONFORMANCE_RUN_TEST=<ShortName> runs one test; CONFORMANCE_SKIP_TESTS=a,b skips some;
// CONFORMANCE_FEATURES overrides the supported-features list; CONFORMANCE_KEEP_LAB=1 leaves the lab up.
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, existsSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT, STATE_ROOT } from './config.ts';
import { down, kubectlSync, runningLab, up } from './lab.ts';
import { helm, HelmMesh, MESH_NAMESPACE, upgradeZtunnel, waitForMesh } from './mesh-helm.ts';
import type { LabState } from './state.ts';

export const MESH_NS = 'gateway-conformance-mesh';
/** The profiles run: the two mesh ones (GATEWAY-* need an ingress implementation, which we do not have). */
export const PROFILES = ['MESH-HTTP', 'MESH-GRPC'] as const;
const OUT_DIR = join(STATE_ROOT, 'conformance');

/**
 * What we claim (`-supported-features`): MESH-HTTP's core (Mesh, HTTPRoute) and the extended features
 * the waypoint's GAMMA translation covers (controller/src/waypoint-xds/gateway-api.ts). Left out, as
 * Istio's ambient run leaves it out: MeshConsumerRoute (a route in the client's namespace needs the
 * client-side proxy a sidecar has; ambient routes at the destination's waypoint).
 */
export const SUPPORTED_FEATURES = [
  'Mesh',
  'HTTPRoute',
  // MESH-GRPC's core.
  'GRPCRoute',
  'HTTPRouteResponseHeaderModification',
  'HTTPRouteParentRefPort',
  'HTTPRoute303RedirectStatusCode',
  'HTTPRoute307RedirectStatusCode',
  'HTTPRoute308RedirectStatusCode',
  'MeshClusterIPMatching',
  'MeshHTTPRouteRewritePath',
  'MeshHTTPRouteSchemeRedirect',
  'MeshHTTPRouteRedirectPort',
  'MeshHTTPRouteRedirectPath',
  'MeshHTTPRouteBackendRequestHeaderModification',
  'MeshHTTPRouteQueryParamMatching',
  'MeshHTTPRouteNamedRouteRule',
] as const;

/** The suite's flags for this run (after the `-test.*` ones). Pure. */
export function suiteArgs(opts: { reportPath: string; features: readonly string[]; version: string; profiles?: readonly string[]; runTest?: string; skipTests?: string }): string[] {
  return [
    '-test.v',
    '-test.timeout=45m',
    '-test.run=^TestConformance$',
    `-conformance-profiles=${(opts.profiles ?? PROFILES).join(',')}`,
    `-supported-features=${opts.features.join(',')}`,
    // All the suite's namespaces in ambient; gateway-conformance-mesh's Services through its waypoint.
    '-namespace-labels=istio.io/dataplane-mode=ambient,istio.io/use-waypoint=waypoint',
    // charts/base ships the v1.5 standard-channel CRDs; the suite checks for its own bundle version.
    '-allow-crds-mismatch',
    // The lab goes down after the run: no need to wait for namespace deletions.
    '-cleanup-base-resources=false',
    `-report-output=${opts.reportPath}`,
    '-organization=ambient-mesh',
    '-project=ambient-mesh',
    '-url=https://github.com/ambient-mesh/ambient-mesh',
    `-version=${opts.version}`,
    '-contact=@ambient-mesh/maintainers',
    ...(opts.runTest ? [`-run-test=${opts.runTest}`] : []),
    ...(opts.skipTests ? [`-skip-tests=${opts.skipTests}`] : []),
  ];
}

export type TestOutcome = 'PASS' | 'FAIL' | 'SKIP';

/** Each suite test's outcome from `go test -v` output: `--- PASS: TestConformance/MeshBasic (1.23s)` (subtests of tests ignored). Pure. */
export function testOutcomes(log: string): Map<string, { outcome: TestOutcome; seconds: number }> {
  const out = new Map<string, { outcome: TestOutcome; seconds: number }>();
  for (const m of log.matchAll(/^\s*--- (PASS|FAIL|SKIP): TestConformance\/([^/\s]+) \(([\d.]+)s\)$/gm)) {
    out.set(m[2]!, { outcome: m[1] as TestOutcome, seconds: Number(m[3]) });
  }
  return out;
}

/**
 * The run's test lines: the mesh tests (`Mesh*`) one by one with their outcome, then the counts; the
 * suite's other tests (Gateway profiles) are all skipped in a mesh-only run and are only counted. Pure.
 */
export function outcomeSummary(outcomes: ReadonlyMap<string, { outcome: TestOutcome; seconds: number }>): string[] {
  const mesh = [...outcomes].filter(([k]) => k.startsWith('Mesh'));
  const others = [...outcomes].filter(([k]) => !k.startsWith('Mesh'));
  const n = (list: typeof mesh, o: TestOutcome): number => list.filter(([, v]) => v.outcome === o).length;
  const lines = ['\nMesh tests'];
  for (const [name, v] of mesh) lines.push(`  ${v.outcome}  ${name} (${v.seconds.toFixed(2)}s)`);
  lines.push(`Mesh tests: ${n(mesh, 'PASS')} passed, ${n(mesh, 'FAIL')} failed, ${n(mesh, 'SKIP')} skipped`);
  if (others.length) lines.push(`other suite tests (not in the mesh profiles): ${n(others, 'PASS')} passed, ${n(others, 'FAIL')} failed, ${n(others, 'SKIP')} skipped`);
  return lines;
}

interface ProfileStatus {
  result?: string;
  statistics?: { Passed?: number; Failed?: number; Skipped?: number };
  skippedTests?: string[];
  failedTests?: string[];
}
interface Report {
  gatewayAPIVersion?: string;
  profiles?: { name: string; summary?: string; core?: ProfileStatus; extended?: ProfileStatus & { supportedFeatures?: string[]; unsupportedFeatures?: string[] } }[];
}

/** The lines the run prints about the report: per profile its summary, core and extended results. Pure. */
export function reportSummary(yamlText: string): string[] {
  const r = parseYaml(yamlText) as Report;
  const lines: string[] = [];
  for (const p of r.profiles ?? []) {
    lines.push(`${p.name}: ${p.summary ?? ''}`.trimEnd());
    for (const [label, s] of [['core', p.core], ['extended', p.extended]] as const) {
      if (!s) continue;
      const st = s.statistics ?? {};
      lines.push(`  ${label}: ${s.result ?? '?'} (passed ${st.Passed ?? 0}, failed ${st.Failed ?? 0}, skipped ${st.Skipped ?? 0})`);
      if (s.failedTests?.length) lines.push(`    failed: ${s.failedTests.join(', ')}`);
      if (s.skippedTests?.length) lines.push(`    skipped: ${s.skippedTests.join(', ')}`);
    }
  }
  return lines;
}

function buildSuite(): string {
  const t0 = Date.now();
  const r = spawnSync(join(REPO_ROOT, 'e2e/lab/build-conformance.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('e2e/lab/build-conformance.sh failed');
  const bin = r.stdout.trim().split('\n').pop();
  if (!bin) throw new Error('build-conformance.sh printed no bin dir');
  console.log(`conformance suite: ${bin}/gateway-conformance (${Math.round((Date.now() - t0) / 1000)} s)`);
  return join(bin, 'gateway-conformance');
}

/** The lab has no cluster DNS: ztunnel's DNS proxy answers the pods' look-ups once the CNI redirects port 53 to it. */
async function enableDnsCapture(lab: LabState, log: (l: string) => void): Promise<void> {
  helm(lab, ['upgrade', 'istio-cni', join(REPO_ROOT, 'charts/cni'), '-n', MESH_NAMESPACE, '-f', join(REPO_ROOT, 'e2e/lab/helm-values/cni.yaml'), '--set', 'cni.ambient.dnsCapture=true'], { log });
  await waitForMesh(lab, 180_000);
  await upgradeZtunnel(lab, ['--set', 'env.DNS_CAPTURE=true'], { log });
}

function ambientctl(lab: LabState, args: string[], log: (l: string) => void): void {
  log(`$ ambientctl ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'cli/src/ambientctl.ts'), ...args], { encoding: 'utf8', timeout: 180_000, env: { ...process.env, KUBECONFIG: lab.kubeconfig } });
  for (const l of `${r.stdout}${r.stderr}`.trimEnd().split('\n')) log(`  ${l}`);
  if (r.status !== 0) throw new Error(`ambientctl ${args.join(' ')} exited ${r.status}`);
}

function projectVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Runs the suite binary, its output to `logPath`, each test's outcome line echoed as it comes. */
function runSuite(exe: string, args: string[], lab: LabState, logPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const file = createWriteStream(logPath);
    const child = spawn(exe, args, { env: { ...process.env, KUBECONFIG: lab.kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'], cwd: OUT_DIR });
    child.stderr.pipe(file, { end: false });
    createInterface({ input: child.stdout }).on('line', (line) => {
      file.write(`${line}\n`);
      // Live: the mesh tests' outcomes (the Gateway tests are all skipped in a mesh-only run).
      if (/^\s*--- (PASS|FAIL|SKIP): TestConformance\/Mesh[^/\s]* /.test(line)) console.log(`  ${line.trim()}`);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      file.end();
      resolve(code ?? 1);
    });
  });
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const log = (l: string): void => console.log(`  ${l}`);
  if (runningLab()) throw new Error('a lab is already running; tear it down first with: make lab-down');
  mkdirSync(OUT_DIR, { recursive: true });
  const exe = buildSuite();
  const lab = await up({ nodes: 2, log });
  console.log(`\nInstalling the mesh with Helm (charts/, the lab's values in e2e/lab/helm-values/)`);
  await HelmMesh.install(lab, { log });
  console.log('\nDNS capture on (no cluster DNS in the lab; ztunnel answers for mesh Services)');
  await enableDnsCapture(lab, log);

  console.log(`\nA waypoint for ${MESH_NS}, before the suite applies its manifests`);
  kubectlSync(lab, ['create', 'namespace', MESH_NS]);
  kubectlSync(lab, ['label', 'namespace', MESH_NS, 'istio.io/dataplane-mode=ambient', 'istio.io/use-waypoint=waypoint']);
  ambientctl(lab, ['waypoint', 'apply', '-n', MESH_NS, '--wait'], log);

  const reportPath = join(OUT_DIR, `mesh-report-${lab.runId}.yaml`);
  const logPath = join(OUT_DIR, `mesh-${lab.runId}.log`);
  const features = process.env.CONFORMANCE_FEATURES ? process.env.CONFORMANCE_FEATURES.split(',').filter(Boolean) : [...SUPPORTED_FEATURES];
  const profiles = process.env.CONFORMANCE_PROFILES ? process.env.CONFORMANCE_PROFILES.split(',').filter(Boolean) : [...PROFILES];
  const args = suiteArgs({ reportPath, features, profiles, version: projectVersion(), runTest: process.env.CONFORMANCE_RUN_TEST, skipTests: process.env.CONFORMANCE_SKIP_TESTS });
  console.log(`\n$ gateway-conformance ${args.join(' ')}`);
  const t1 = Date.now();
  const code = await runSuite(exe, args, lab, logPath);
  console.log(`suite exited ${code} after ${Math.round((Date.now() - t1) / 1000)} s; log ${logPath}`);

  for (const l of outcomeSummary(testOutcomes(readFileSync(logPath, 'utf8')))) console.log(l);
  if (existsSync(reportPath)) {
    copyFileSync(reportPath, join(OUT_DIR, 'mesh-report.yaml'));
    console.log(`\nReport ${reportPath} (also ${join(OUT_DIR, 'mesh-report.yaml')})`);
    for (const l of reportSummary(readFileSync(reportPath, 'utf8'))) console.log(`  ${l}`);
  } else {
    console.log(`\nno report was written (${reportPath}); see the log`);
  }
  console.log(`\nconformance run took ${Math.round((Date.now() - t0) / 1000)} s`);
  return code === 0 && existsSync(reportPath) ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let exitCode = 1;
  try {
    exitCode = await main();
  } catch (err) {
    console.error(`conformance failed: ${(err as Error).message}`);
  }
  if (process.env.CONFORMANCE_KEEP_LAB !== '1') await down().catch(() => {});
  else console.log('the lab stays up (CONFORMANCE_KEEP_LAB=1): tear it down with make lab-down');
  process.exit(exitCode);
}
