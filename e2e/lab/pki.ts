// The lab's PKI, made fresh per lab with openssl: cluster CA, apiserver serving certificate,
// client certificates (admin, controller-manager, scheduler, one per node) and the service-account key.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './exec.ts';

export interface ClientCert {
  cert: string;
  key: string;
}

export interface LabPki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  saKey: string;
  saPub: string;
  clients: Record<string, ClientCert>;
  /** Each node's kubelet serving certificate (SANs: 127.0.0.1, where the apiserver dials it, and the node name). */
  kubeletServing: Record<string, ClientCert>;
}

/** The CN of the apiserver's client certificate towards kubelets; the kubelets allow only it. */
export const KUBELET_CLIENT_CN = 'kube-apiserver-kubelet-client';

function genKey(path: string): void {
  run(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);
}

function signCert(
  dir: string,
  name: string,
  subject: string,
  ca: { cert: string; key: string },
  ext: string,
): ClientCert {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const extFile = join(dir, `${name}.ext`);
  genKey(key);
  run(['openssl', 'req', '-new', '-key', key, '-subj', subject, '-out', csr]);
  writeFileSync(extFile, ext);
  run([
    'openssl', 'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial',
    '-days', '30', '-sha256', '-extfile', extFile, '-out', cert,
  ]);
  return { cert, key };
}

/** Creates the PKI under dir; `nodes` are node names that get `system:node:<name>` certificates. */
export function createPki(dir: string, nodes: string[], serverSans: string[]): LabPki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca.key');
  const caCert = join(dir, 'ca.crt');
  genKey(caKey);
  run([
    'openssl', 'req', '-x509', '-new', '-key', caKey, '-subj', '/CN=ambient-lab-ca', '-days', '30',
    '-sha256', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext',
    'keyUsage=critical,keyCertSign,cRLSign,digitalSignature', '-out', caCert,
  ]);
  const ca = { cert: caCert, key: caKey };
  const san = serverSans.map((s) => (/^[0-9.]+$/.test(s) ? `IP:${s}` : `DNS:${s}`)).join(',');
  const server = signCert(dir, 'apiserver', '/CN=kube-apiserver', ca,
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
  const clientExt = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n';
  const clients: Record<string, ClientCert> = {
    admin: signCert(dir, 'admin', '/O=system:masters/CN=kubernetes-admin', ca, clientExt),
    'kube-controller-manager': signCert(dir, 'kube-controller-manager', '/CN=system:kube-controller-manager', ca, clientExt),
    'kube-scheduler': signCert(dir, 'kube-scheduler', '/CN=system:kube-scheduler', ca, clientExt),
    // Bound to the bootstrap role system:node-proxier, as the real kube-proxy is.
    'kube-proxy': signCert(dir, 'kube-proxy', '/CN=system:kube-proxy', ca, clientExt),
  };
  // What the apiserver presents to kubelets (--kubelet-client-certificate), as kubeadm names it.
  clients[KUBELET_CLIENT_CN] = signCert(dir, KUBELET_CLIENT_CN, `/O=system:masters/CN=${KUBELET_CLIENT_CN}`, ca, clientExt);
  const kubeletServing: Record<string, ClientCert> = {};
  for (const node of nodes) {
    clients[`node-${node}`] = signCert(dir, `node-${node}`, `/O=system:nodes/CN=system:node:${node}`, ca, clientExt);
    kubeletServing[node] = signCert(dir, `kubelet-${node}`, `/O=system:nodes/CN=system:node:${node}`, ca,
      `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:${node}\n`);
  }
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  genKey(saKey);
  run(['openssl', 'pkey', '-in', saKey, '-pubout', '-out', saPub]);
  return { dir, caCert, caKey, serverCert: server.cert, serverKey: server.key, saKey, saPub, clients, kubeletServing };
}

/** A kubeconfig that points at the lab apiserver with one client certificate. */
export function writeKubeconfig(path: string, server: string, caCert: string, client: ClientCert, user: string): void {
  const text = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: lab',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caCert}`,
    'users:',
    `- name: ${user}`,
    '  user:',
    `    client-certificate: ${client.cert}`,
    `    client-key: ${client.key}`,
    'contexts:',
    '- name: lab',
    '  context:',
    '    cluster: lab',
    `    user: ${user}`,
    'current-context: lab',
    '',
  ].join('\n');
  writeFileSync(path, text, { mode: 0o600 });
}
