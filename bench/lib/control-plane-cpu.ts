// The CPU a benchmark's control plane spends: what the requests it served cost the server side.
import { readFileSync } from 'node:fs';
import type { ControlPlane } from '../../src/devenv/control-plane.js';
import { pidsWithArgs, procSample } from './proc-status.js';

/**
 * CPU seconds used so far by this control plane's kube-apiserver and etcd (found by their command
 * lines in /proc): what a write costs the server side, for the operator and for the write peer.
 */
export function controlPlaneCpu(cp: ControlPlane, log: (msg: string) => void): () => number {
  const port = new URL(cp.server).port;
  const apiserver = pidsWithArgs(['kube-apiserver', `--secure-port=${port}`]);
  const etcdUrl = apiserver
    .flatMap((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      } catch {
        return [];
      }
    })
    .find((a) => a.startsWith('--etcd-servers='))
    ?.slice('--etcd-servers='.length);
  const etcd = etcdUrl ? pidsWithArgs(['etcd', `--listen-client-urls=${etcdUrl}`]) : [];
  const pids = [...apiserver, ...etcd];
  if (!apiserver.length || !etcd.length)
    log(`control plane CPU: found apiserver ${apiserver.join(',') || '-'}, etcd ${etcd.join(',') || '-'}`);
  return () => pids.reduce((sum, pid) => sum + (procSample(pid)?.cpuSeconds ?? 0), 0);
}
