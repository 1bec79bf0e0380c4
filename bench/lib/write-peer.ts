// The apiserver's own pace, as the peer a controller's write rate is held against: a minimal
// keep-alive HTTPS client that creates `count` Secrets of `bytes` bytes of data, `concurrency` at a
// time, in one namespace, and nothing else (no watch, no cache, no parsing of the answers beyond
// the status code). Whatever the apiserver and etcd accept from it on the same cores is the most
// any client can write there.
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface WritePeerResult {
  writes: number;
  failures: number;
  seconds: number;
  writesPerSecond: number;
  /** this process's CPU (user+sys) spent while the peer ran: the client's own cost */
  clientCpuSeconds: number;
}

export async function secretWritePeer(
  kc: KubeConfig,
  opts: { namespace: string; count: number; concurrency: number; bytes: number; namePrefix?: string },
): Promise<WritePeerResult> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const base = new URL(cluster.server.replace(/\/+$/, '') + `/api/v1/namespaces/${opts.namespace}/secrets`);
  if (base.protocol !== 'https:') throw new Error(`write peer: expected an https apiserver, got ${base.protocol}`);
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: opts.concurrency });
  const template: RequestOptions = { method: 'POST', agent, headers: { 'Content-Type': 'application/json', Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(template);
  template.agent = agent; // applyToHTTPSOptions may set its own; the point is one keep-alive pool
  const payload = Buffer.alloc(opts.bytes, 0x61).toString('base64');
  const prefix = opts.namePrefix ?? 'peer';

  const post = (i: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: `${prefix}-${i}`, namespace: opts.namespace },
        data: { blob: payload },
      });
      const req = httpsRequest(
        base,
        { ...template, headers: { ...template.headers, 'Content-Length': Buffer.byteLength(body) } },
        (res) => {
          res.resume(); // the answer is not read: only its status counts
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error('write peer: no answer within 30 s')));
      req.on('error', reject);
      req.end(body);
    });

  let next = 0;
  let failures = 0;
  const cpu0 = process.cpuUsage();
  const started = process.hrtime.bigint();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= opts.count) return;
      const code = await post(i).catch(() => 0);
      if (code !== 201) failures++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.count) }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  agent.destroy();
  const writes = opts.count - failures;
  return { writes, failures, seconds, writesPerSecond: writes / seconds, clientCpuSeconds: (cpu.user + cpu.system) / 1e6 };
}
