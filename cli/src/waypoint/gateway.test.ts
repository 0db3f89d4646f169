import { describe, expect, it } from 'vitest';
import { gatewayYaml, listOutput, makeGateway, statusOutput, statusRow } from './gateway.ts';
import { gw } from './test-fixtures.ts';

describe('makeGateway / gatewayYaml (istioctl waypoint generate)', () => {
  it('prints the golden shape of `istioctl waypoint generate --for service -n default`', () => {
    expect(gatewayYaml(makeGateway({ name: 'waypoint', namespace: 'default', trafficType: 'service' }))).toBe(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  labels:
    istio.io/waypoint-for: service
  name: waypoint
  namespace: default
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
`);
  });

  it('has no labels without --for/-r and no namespace without -n; "" is the default name', () => {
    expect(gatewayYaml(makeGateway({ name: '' }))).toBe(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
spec:
  gatewayClassName: istio-waypoint
  listeners:
  - name: mesh
    port: 15008
    protocol: HBONE
`);
  });

  it('labels the revision next to the traffic type', () => {
    expect(makeGateway({ name: 'w1', namespace: 'ns', trafficType: 'all', revision: 'canary' }).metadata.labels)
      .toEqual({ 'istio.io/waypoint-for': 'all', 'istio.io/rev': 'canary' });
  });

  it.each([
    [{ name: 'none' }, "failed to create gateway: invalid name provided for waypoint, 'none' is a reserved value"],
    [{ name: 'w', trafficType: 'everything' }, 'failed to create gateway: invalid traffic type: everything. Valid options are: [all none service workload]'],
  ])('refuses %j', (o, msg) => expect(() => makeGateway(o)).toThrow(msg));
});

describe('listOutput (istioctl waypoint list)', () => {
  it('matches istioctl\'s default-gateway golden', () => {
    expect(listOutput([gw('default', 'waypoint', { programmed: 'True' })], false)).toBe('NAME         REVISION     TRAFFIC TYPE     PROGRAMMED\nwaypoint     default      none             True\n');
  });

  it('sorts by namespace and name, skips other classes, shows labels and False without a condition (-A)', () => {
    const out = listOutput([
      gw('default', 'waypoint'),
      gw('bookinfo', 'bookinfo-valid', { programmed: 'True' }),
      gw('bookinfo', 'bookinfo-rev', { programmed: 'True', labels: { 'istio.io/rev': 'rev1' } }),
      gw('bookinfo', 'ingress', { cls: 'istio' }),
      gw('bookinfo', 'bookinfo-traffic-type', { programmed: 'True', labels: { 'istio.io/waypoint-for': 'all' } }),
      gw('default', 'bookinfo', { programmed: 'False' }),
    ], true);
    expect(out).toBe([
      'NAMESPACE     NAME                      REVISION     TRAFFIC TYPE     PROGRAMMED',
      'bookinfo      bookinfo-rev              rev1         none             True',
      'bookinfo      bookinfo-traffic-type     default      all              True',
      'bookinfo      bookinfo-valid            default      none             True',
      'default       bookinfo                  default      none             False',
      'default       waypoint                  default      none             False',
      '',
    ].join('\n'));
  });

  it('says "No waypoints found." only when there are no Gateways at all', () => {
    expect(listOutput([], false)).toBe('No waypoints found.\n');
    expect(listOutput([gw('default', 'ingress', { cls: 'istio' })], false)).toBe('NAME     REVISION     TRAFFIC TYPE     PROGRAMMED\n');
  });
});

describe('statusRow / statusOutput (istioctl waypoint status)', () => {
  it('shows the Programmed condition once True, else the last condition, else empty cells', () => {
    expect(statusRow(gw('ns', 'a', { programmed: 'True' }), false)).toEqual(['a', 'True', 'Programmed', 'Programmed', 'm']);
    expect(statusRow(gw('ns', 'b', { conditions: { conditions: [{ type: 'Programmed', status: 'False', reason: 'AddressNotUsable', message: 'x' }, { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'Resource accepted' }] } }), true))
      .toEqual(['ns', 'b', 'True', 'Accepted', 'Accepted', 'Resource accepted']);
    expect(statusRow(gw('ns', 'c'), false)).toEqual(['c', '', '', '', '']);
    expect(statusOutput([['a', 'True', 'Programmed', 'Programmed', 'ok']], false)).toBe('NAME     STATUS     TYPE           REASON         MESSAGE\na        True       Programmed     Programmed     ok\n');
  });
});
