// The real Kubernetes control plane of the lab: etcd, kube-apiserver, kube-controller-manager and
// kube-scheduler, each started from the binaries that build-tools.sh made, and waited for.
import https from 'node:https';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NET, PORTS } from './config.ts';
import { startDaemon, tail } from './daemons.ts';
import { KUBELET_CLIENT_CN, type LabPki } from './pki.ts';
import { pollUntil } from './poll.ts';
import type { LabProcess } from './state.ts';
import { isAlive } from './state.ts';

export interface ControlPlaneInput {
  runId: string;
  dir: string;
  bin: string;
  pki: LabPki;
  kubeconfigs: { controllerManager: string; scheduler: string };
  onStarted: (p: LabProcess) => void;
}

export const apiserverUrl = `https://127.0.0.1:${PORTS.apiserver}`;

function httpsGet(url: string, pki: LabPki): Promise<number> {
  const admin = pki.clients.admin;
  if (!admin) throw new Error('no admin client certificate');
  return new Promise((resolve) => {
    const req = https.get(url, {
      ca: readFileSync(pki.caCert),
      cert: readFileSync(admin.cert),
      key: readFileSync(admin.key),
      timeout: 2000,
    }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

async function waitHealthy(p: LabProcess, url: string, pki: LabPki, timeoutMs: number, insecure = false): Promise<void> {
  await pollUntil(`${p.name} to be healthy at ${url}`, async () => {
    if (!isAlive(p.pid)) throw new Error(`${p.name} exited; log ${p.log}:\n${tail(p.log)}`);
    const status = insecure ? await insecureGet(url) : await httpsGet(url, pki);
    return status === 200;
  }, { timeoutMs }).catch((err: Error) => {
    throw new Error(`${err.message}\n--- ${p.log} ---\n${tail(p.log)}`);
  });
}

function insecureGet(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = https.get(url, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

export async function startControlPlane(input: ControlPlaneInput): Promise<void> {
  const { runId, dir, bin, pki } = input;
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });

  const etcd = startDaemon('etcd', [
    join(bin, 'etcd'),
    '--name=lab', `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=http://127.0.0.1:${PORTS.etcdClient}`,
    `--advertise-client-urls=http://127.0.0.1:${PORTS.etcdClient}`,
    `--listen-peer-urls=http://127.0.0.1:${PORTS.etcdPeer}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${PORTS.etcdPeer}`,
    `--initial-cluster=lab=http://127.0.0.1:${PORTS.etcdPeer}`,
    '--listen-metrics-urls=', '--log-level=warn',
    // The lab is throwaway: skip fsync so a 2-core CI machine is not slowed by disk flushes.
    '--unsafe-no-fsync=true', '--quota-backend-bytes=4294967296',
  ], join(logs, 'etcd.log'), runId);
  input.onStarted(etcd);
  await pollUntil('etcd to serve', async () => {
    if (!isAlive(etcd.pid)) throw new Error(`etcd exited:\n${tail(etcd.log)}`);
    const res = await fetch(`http://127.0.0.1:${PORTS.etcdClient}/health`).catch(() => undefined);
    return res?.ok === true;
  }, { timeoutMs: 30_000 });

  const kubeletClient = pki.clients[KUBELET_CLIENT_CN];
  if (!kubeletClient) throw new Error(`no client certificate ${KUBELET_CLIENT_CN}`);
  const apiserver = startDaemon('kube-apiserver', [
    join(bin, 'kube-apiserver'),
    `--etcd-servers=http://127.0.0.1:${PORTS.etcdClient}`,
    '--bind-address=127.0.0.1', `--secure-port=${PORTS.apiserver}`, '--advertise-address=127.0.0.1',
    `--tls-cert-file=${pki.serverCert}`, `--tls-private-key-file=${pki.serverKey}`,
    `--client-ca-file=${pki.caCert}`,
    `--service-account-key-file=${pki.saPub}`, `--service-account-signing-key-file=${pki.saKey}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    '--api-audiences=https://kubernetes.default.svc.cluster.local',
    '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction',
    `--service-cluster-ip-range=${NET.serviceCidr}`,
    // The lab apiserver listens on loopback, which is not a valid endpoint address: no reconciler.
    '--endpoint-reconciler-type=none',
    '--allow-privileged=true', '--profiling=false', '--v=1',
    // The kubelet API (exec, logs, port-forward): each node's kubelet listens on the host's loopback
    // (advertised as the node's ExternalIP and its daemonEndpoints port) and checks this client cert.
    `--kubelet-client-certificate=${kubeletClient.cert}`, `--kubelet-client-key=${kubeletClient.key}`,
    `--kubelet-certificate-authority=${pki.caCert}`, '--kubelet-preferred-address-types=ExternalIP,InternalIP,Hostname',
  ], join(logs, 'kube-apiserver.log'), runId);
  input.onStarted(apiserver);
  await waitHealthy(apiserver, `${apiserverUrl}/readyz`, pki, 90_000);

  const cm = startDaemon('kube-controller-manager', [
    join(bin, 'kube-controller-manager'),
    `--kubeconfig=${input.kubeconfigs.controllerManager}`,
    `--authentication-kubeconfig=${input.kubeconfigs.controllerManager}`,
    `--authorization-kubeconfig=${input.kubeconfigs.controllerManager}`,
    '--bind-address=127.0.0.1', `--secure-port=${PORTS.controllerManager}`,
    '--leader-elect=false', '--use-service-account-credentials=true',
    `--service-account-private-key-file=${pki.saKey}`, `--root-ca-file=${pki.caCert}`,
    `--cluster-signing-cert-file=${pki.caCert}`, `--cluster-signing-key-file=${pki.caKey}`,
    '--allocate-node-cidrs=false', `--cluster-cidr=${NET.clusterCidr}`, `--service-cluster-ip-range=${NET.serviceCidr}`,
    '--controllers=*,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller',
    '--profiling=false', '--v=1',
  ], join(logs, 'kube-controller-manager.log'), runId);
  input.onStarted(cm);

  const sched = startDaemon('kube-scheduler', [
    join(bin, 'kube-scheduler'),
    `--kubeconfig=${input.kubeconfigs.scheduler}`,
    `--authentication-kubeconfig=${input.kubeconfigs.scheduler}`,
    `--authorization-kubeconfig=${input.kubeconfigs.scheduler}`,
    '--bind-address=127.0.0.1', `--secure-port=${PORTS.scheduler}`,
    '--leader-elect=false', '--profiling=false', '--v=1',
  ], join(logs, 'kube-scheduler.log'), runId);
  input.onStarted(sched);

  await waitHealthy(cm, `https://127.0.0.1:${PORTS.controllerManager}/healthz`, pki, 60_000, true);
  await waitHealthy(sched, `https://127.0.0.1:${PORTS.scheduler}/healthz`, pki, 60_000, true);
}
