// ztunnel's own in-pod ports: never a valid target for a proxied connection (a self-call loop).
import { ISTIO_POD_PORTS } from '../inpod/pod-listeners.ts';

const ZTUNNEL_PORTS: ReadonlySet<number> = new Set(Object.values(ISTIO_POD_PORTS));

export function isZtunnelPort(port: number): boolean {
  return ZTUNNEL_PORTS.has(port);
}
