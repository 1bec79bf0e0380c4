// `--metrics-addr`: the responder's metrics leave the public OCSP port (which an Ingress publishes)
// for a port of their own, which Prometheus scrapes. The real CLI, once as one process and once as
// a primary with two workers (the primary then listens and answers for the whole pod).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/redis.js';
import { get, oneResponseStore, startPod, type PodProcess, type ServedCertificate } from './pod-process.js';

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"]/g, (ch) => `\\${ch}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe.each([1, 2])('a responder with --metrics-addr and %i worker(s)', (workers) => {
  let served: ServedCertificate;
  let pod: PodProcess;
  let metricsBase: string;

  beforeAll(async () => {
    served = await oneResponseStore();
    const port = await freePort();
    metricsBase = `http://127.0.0.1:${port}`;
    pod = await startPod(served, ['--workers', String(workers), '--metrics-addr', `127.0.0.1:${port}`]);
  }, 60_000);
  afterAll(async () => {
    await pod?.stop();
    await served?.remove();
  });

  it('serves /metrics on the metrics port, counting what the public port answered', async () => {
    for (let i = 0; i < 5; i++) expect((await get(pod.base + served.getPath)).status).toBe(200);
    const r = await get(`${metricsBase}/metrics`, 5_000);
    expect(r.status).toBe(200);
    const text = r.body.toString();
    expect(metric(text, 'ocsp_responder_requests_total{method="GET",result="ok"}')).toBe(5);
    expect(metric(text, 'ocsp_responder_ready')).toBe(1);
    if (workers > 1) expect(metric(text, 'ocsp_responder_workers{state="running"}')).toBe(workers);
  });

  it('answers /metrics on the public port with 404, and still serves OCSP and the probes there', async () => {
    const r = await get(`${pod.base}/metrics`);
    expect(r.status).toBe(404);
    expect(r.body.length).toBe(0);
    expect((await get(`${pod.base}/readyz`)).status).toBe(200);
    expect((await get(pod.base + served.getPath)).body.equals(served.der)).toBe(true);
  });

  it('answers /healthz and /readyz (the pod readiness) on the metrics port too; anything else is 404', async () => {
    expect((await get(`${metricsBase}/healthz`)).status).toBe(200);
    const ready = await get(`${metricsBase}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body.toString())).toMatchObject({
      ready: true,
      ...(workers > 1 ? { workers: { wanted: workers, ready: workers } } : {}),
    });
    expect((await get(`${metricsBase}${served.getPath}`)).status).toBe(404);
  });
});
