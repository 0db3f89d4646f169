// The lab's "image registry": container images a pod spec may name, mapped to the program the
// kubelet stand-in runs for them (a path relative to the repository root) and how it runs it. The
// one place that knows which image is which program and which netns arrangement it gets.

/**
 * How a container's process meets its pod's network namespace (the lab runtime's decision, as a
 * container runtime chooses the netns):
 * - `pod-netns`: the whole process runs inside the pod netns (`nsenter --net`), like a container.
 * - `host-with-pod-netns`: a host process given `POD_NETNS=/run/netns/<pod netns>`; it opens its
 *   data-plane sockets inside that netns and keeps its control-plane connections (to the
 *   controller on the host's loopback) in its own. Our waypoint runs so.
 * - `host-process`: a host process of its node in the root netns, no pod netns at all (no CNI):
 *   the pod's IP is the node's, hostPath volumes are the node's directories in the lab state. The
 *   mesh's node-level components run so (controller, node agent, ztunnel: ztunnel reaches each pod
 *   netns through ZDS), whether or not the pod asks for hostNetwork, and talk to the apiserver and
 *   the controller on the host's loopback.
 */
export type RunMode = 'pod-netns' | 'host-with-pod-netns' | 'host-process';

/**
 * When a container counts as ready. Lab programs bind ephemeral or loopback ports, so a probe on
 * the spec's fixed port cannot reach them: the kubelet waits for the start-up log line `line` (a
 * JSON line with `"msg":"<line>"`) and then, when the container has an httpGet readinessProbe,
 * probes the spec's path on 127.0.0.1 at the port the line names in field `portField`.
 */
export interface Readiness {
  line: string;
  portField?: string;
}

export interface LabImage {
  program: string;
  runMode: RunMode;
}

interface Entry {
  program: string;
  runMode: RunMode;
  /** Default: ready at the line `"msg":"ready"`, no probe. */
  readiness?: Readiness;
  /** Also found under any registry prefix (`docker.io/…`, `localhost:5000/…`): the charts' `hub` decides it. */
  anyRegistry?: boolean;
  /**
   * Commands the image ships besides its entrypoint, for `kubectl exec`: command name → lab program
   * (a path relative to the repository root, run with the project's node inside the container's
   * netns, env and cwd). A name not listed here is looked up on the host's PATH.
   */
  commands?: Readonly<Record<string, string>>;
}

export const CATALOGUE: Readonly<Record<string, Entry>> = {
  'lab/http-echo': { program: 'e2e/lab/images/http-echo.ts', runMode: 'pod-netns' },
  'lab/tcp-echo': { program: 'e2e/lab/images/tcp-echo.ts', runMode: 'pod-netns' },
  'lab/sleep': { program: 'e2e/lab/images/sleep.ts', runMode: 'pod-netns' },
  // The Bookinfo-shaped sample (e2e/lab/bookinfo.ts).
  'lab/bookinfo-productpage': { program: 'e2e/lab/images/bookinfo-productpage.ts', runMode: 'pod-netns' },
  'lab/bookinfo-details': { program: 'e2e/lab/images/bookinfo-details.ts', runMode: 'pod-netns' },
  'lab/bookinfo-reviews': { program: 'e2e/lab/images/bookinfo-reviews.ts', runMode: 'pod-netns' },
  'lab/bookinfo-ratings': { program: 'e2e/lab/images/bookinfo-ratings.ts', runMode: 'pod-netns' },
  // Gateway API's conformance suite (sigs.k8s.io/gateway-api/conformance): `echo-advanced` is
  // Istio's echo application (server entrypoint, `client` run through exec by the MESH tests).
  'registry.k8s.io/gateway-api/echo-advanced': { program: 'e2e/lab/images/istio-echo.ts', runMode: 'pod-netns', commands: { client: 'e2e/lab/images/istio-echo-client.ts' } },
  'ambient-mesh/waypoint': { program: 'waypoint/src/main.ts', runMode: 'host-with-pod-netns', anyRegistry: true },
  // The charts' images (charts/istiod, charts/cni, charts/ztunnel): `{{hub}}/<name>:{{tag}}`.
  'ambient-mesh/controller': { program: 'controller/src/main.ts', runMode: 'host-process', anyRegistry: true, readiness: { line: 'controller ready', portField: 'monitoring' } },
  'ambient-mesh/cni': { program: 'cni/agent/main.ts', runMode: 'host-process', anyRegistry: true, readiness: { line: 'node agent ready', portField: 'readiness' } },
  'ambient-mesh/ztunnel': { program: 'build/ztunnel/ztunnel.mjs', runMode: 'host-process', anyRegistry: true, readiness: { line: 'ztunnel started', portField: 'readiness' } },
};

const DEFAULT_READINESS: Readiness = { line: 'ready' };

/**
 * `lab/http-echo`, `lab/http-echo:v1` and `lab/http-echo@sha256:…` all name the same program (lab
 * images have no registry); the project's own images may also carry a registry prefix.
 */
export function resolveImage(image: string): LabImage | { error: string } {
  const name = stripTag(image.trim());
  const found = CATALOGUE[name] ?? registryEntry(name);
  if (found !== undefined) return { program: found.program, runMode: found.runMode };
  return { error: `image "${image}" is not in the lab catalogue (${Object.keys(CATALOGUE).join(', ')})` };
}

/** The commands `kubectl exec` finds in a container of `image` (see Entry.commands); none for an unknown image. */
export function imageCommands(image: string): Readonly<Record<string, string>> {
  const name = stripTag(image.trim());
  return (CATALOGUE[name] ?? registryEntry(name))?.commands ?? {};
}

/** How the kubelet decides that a container of `image` is ready (see Readiness). */
export function imageReadiness(image: string): Readiness {
  const name = stripTag(image.trim());
  return (CATALOGUE[name] ?? registryEntry(name))?.readiness ?? DEFAULT_READINESS;
}

/** `<registry>[/<path>]/ambient-mesh/<component>`: the part the charts' `hub` adds is ignored. */
function registryEntry(name: string): Entry | undefined {
  for (const [key, e] of Object.entries(CATALOGUE)) if (e.anyRegistry && name.endsWith(`/${key}`)) return e;
  return undefined;
}

function stripTag(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  // A colon after the last slash is a tag; one before it would be a registry port.
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}
