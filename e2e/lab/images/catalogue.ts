// The lab's "image registry": container images a pod spec may name, mapped to the lab program the
// kubelet stand-in runs for them (a path relative to the repository root).
export const CATALOGUE: Readonly<Record<string, string>> = {
  'lab/http-echo': 'e2e/lab/images/http-echo.ts',
  'lab/tcp-echo': 'e2e/lab/images/tcp-echo.ts',
  'lab/sleep': 'e2e/lab/images/sleep.ts',
};

/** `lab/http-echo`, `lab/http-echo:v1` and `lab/http-echo@sha256:…` all name the same program. */
export function resolveImage(image: string): { program: string } | { error: string } {
  const name = stripTag(image.trim());
  const program = CATALOGUE[name];
  if (program !== undefined) return { program };
  return { error: `image "${image}" is not in the lab catalogue (${Object.keys(CATALOGUE).join(', ')})` };
}

function stripTag(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  // A colon after the last slash is a tag; one before it would be a registry port.
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
}
