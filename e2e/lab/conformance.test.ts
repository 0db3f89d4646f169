// The pure parts of `make conformance` (e2e/lab/conformance.ts): the suite's flags, reading each
// test's outcome from `go test -v` output, and the report summary. No lab needed.
import { describe, expect, it } from 'vitest';
import { outcomeSummary, reportSummary, suiteArgs, SUPPORTED_FEATURES, testOutcomes } from './conformance.ts';

describe('suiteArgs', () => {
  it('runs MESH-HTTP with our features, ambient namespaces enrolled in the waypoint, and a report', () => {
    const args = suiteArgs({ reportPath: '/r.yaml', features: SUPPORTED_FEATURES, version: '1.2.3' });
    expect(args).toContain('-conformance-profiles=MESH-HTTP,MESH-GRPC');
    expect(args).toContain('-namespace-labels=istio.io/dataplane-mode=ambient,istio.io/use-waypoint=waypoint');
    expect(args).toContain('-report-output=/r.yaml');
    expect(args).toContain('-version=1.2.3');
    const features = args.find((a) => a.startsWith('-supported-features='))!.split('=')[1]!.split(',');
    expect(features).toEqual(expect.arrayContaining(['Mesh', 'HTTPRoute', 'GRPCRoute']));
    expect(features).not.toContain('MeshConsumerRoute');
    // Go's flag package stops at the first non-flag: every argument is a flag.
    expect(args.every((a) => a.startsWith('-'))).toBe(true);
    expect(suiteArgs({ reportPath: '/r', features: ['Mesh'], version: 'v', runTest: 'MeshBasic', skipTests: 'A,B' }).slice(-2)).toEqual(['-run-test=MeshBasic', '-skip-tests=A,B']);
  });
});

describe('testOutcomes', () => {
  it('reads the suite tests\' lines and ignores their subtests and the parent', () => {
    const log = [
      '=== RUN   TestConformance/MeshBasic',
      '    --- PASS: TestConformance/MeshBasic/0_request_to_\'/\'_should_go_to_echo (0.40s)',
      '    --- PASS: TestConformance/MeshBasic (0.41s)',
      '    --- FAIL: TestConformance/MeshHTTPRouteWeight (61.02s)',
      '    --- SKIP: TestConformance/MeshConsumerRoute (0.00s)',
      '--- FAIL: TestConformance (90.50s)',
      'FAIL',
    ].join('\n');
    expect([...testOutcomes(log)]).toEqual([
      ['MeshBasic', { outcome: 'PASS', seconds: 0.41 }],
      ['MeshHTTPRouteWeight', { outcome: 'FAIL', seconds: 61.02 }],
      ['MeshConsumerRoute', { outcome: 'SKIP', seconds: 0 }],
    ]);
  });
});

describe('outcomeSummary', () => {
  it('lists the mesh tests and counts the rest', () => {
    const lines = outcomeSummary(new Map([
      ['MeshBasic', { outcome: 'PASS' as const, seconds: 0.41 }],
      ['MeshHTTPRouteMatching', { outcome: 'FAIL' as const, seconds: 30 }],
      ['MeshConsumerRoute', { outcome: 'SKIP' as const, seconds: 0 }],
      ['HTTPRouteWeight', { outcome: 'SKIP' as const, seconds: 0 }],
    ]));
    expect(lines).toEqual(['\nMesh tests', '  PASS  MeshBasic (0.41s)', '  FAIL  MeshHTTPRouteMatching (30.00s)', '  SKIP  MeshConsumerRoute (0.00s)',
      'Mesh tests: 1 passed, 1 failed, 1 skipped', 'other suite tests (not in the mesh profiles): 0 passed, 0 failed, 1 skipped']);
  });
});

describe('reportSummary', () => {
  it('prints each profile\'s summary, core and extended results with the failed and skipped tests', () => {
    const yaml = `apiVersion: gateway.networking.k8s.io/v1
kind: ConformanceReport
gatewayAPIVersion: v1.6.3
profiles:
- name: MESH-HTTP
  summary: Core tests failed with 1 test failures.
  core:
    result: failure
    statistics:
      Failed: 1
      Passed: 5
      Skipped: 0
    failedTests:
    - MeshTrafficSplit
  extended:
    result: success
    statistics:
      Failed: 0
      Passed: 3
      Skipped: 0
    supportedFeatures:
    - MeshClusterIPMatching
    unsupportedFeatures:
    - MeshConsumerRoute
`;
    expect(reportSummary(yaml)).toEqual([
      'MESH-HTTP: Core tests failed with 1 test failures.',
      '  core: failure (passed 5, failed 1, skipped 0)',
      '    failed: MeshTrafficSplit',
      '  extended: success (passed 3, failed 0, skipped 0)',
    ]);
  });
});
