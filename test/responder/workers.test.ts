// The responder pod as processes: a primary and the workers it runs on one port. /metrics and
// /readyz answer for the whole pod whichever worker a request reaches; a worker that dies is
// started again and its counts stay counted; a worker that stops answering takes the pod out of
// readiness until it answers again; SIGTERM stops every worker before the primary exits; and a
// primary killed outright (SIGKILL, the OOM killer) leaves no worker behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, oneResponseStore, running, startPod, status, type PodProcess, type ServedCertificate } from './pod-process.js';

async function until(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - started;
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name.replace(/[{}"]/g, (ch) => `\\${ch}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('a responder pod of two workers', { timeout: 90_000 }, () => {
  let served: ServedCertificate;
  let pod: PodProcess;

  beforeAll(async () => {
    served = await oneResponseStore();
    pod = await startPod(served, ['--workers', '2']);
  }, 60_000);
  afterAll(async () => {
    await pod?.stop();
    await served?.remove();
  });

  const metrics = async () => (await get(`${pod.base}/metrics`, 5_000)).body.toString();

  it('answers /metrics for the pod, whichever worker is asked', async () => {
    expect(pod.workerPids()).toHaveLength(2);
    for (let i = 0; i < 40; i++) {
      const r = await get(pod.base + served.getPath);
      expect(r.status).toBe(200);
      expect(r.body.equals(served.der)).toBe(true);
    }
    // Fresh connections: successive scrapes reach either worker and must agree.
    for (let i = 0; i < 4; i++) {
      const text = await metrics();
      expect(metric(text, 'ocsp_responder_requests_total{method="GET",result="ok"}')).toBe(40);
      expect(metric(text, 'ocsp_responder_workers{state="wanted"}')).toBe(2);
      expect(metric(text, 'ocsp_responder_workers{state="running"}')).toBe(2);
      expect(metric(text, 'ocsp_responder_ready')).toBe(1);
    }
    expect(await (await fetch(`${pod.base}/readyz`)).json()).toMatchObject({ ready: true, workers: { wanted: 2, ready: 2 } });
  });

  it('starts a worker that died again; what it had counted stays counted', async () => {
    const [first] = pod.workerPids();
    process.kill(first!, 'SIGKILL');
    await until('a third worker', () => pod.workerPids().length === 3, 15_000);
    await until('the pod ready again', async () => (await status(`${pod.base}/readyz`)) === 200, 20_000);
    const text = await metrics();
    expect(metric(text, 'ocsp_responder_worker_restarts_total')).toBe(1);
    // The dead worker's requests were in its last report (the scrapes above): never a decrease.
    expect(metric(text, 'ocsp_responder_requests_total{method="GET",result="ok"}')).toBe(40);
    expect(pod.logs.some((l) => l.msg === 'worker exited; restarting it' && l.signal === 'SIGKILL')).toBe(true);
  });

  it('leaves rotation while one worker is stuck, and comes back when it answers again', async () => {
    const stuck = pod.workerPids().at(-1)!;
    process.kill(stuck, 'SIGSTOP');
    try {
      // Four probes without a report (2 s), then the next publication.
      const took = await until('the pod not ready', async () => (await status(`${pod.base}/readyz`, 1_000)) === 503, 10_000);
      process.stderr.write(`a stuck worker took the pod out of readiness after ${took} ms\n`);
      const body = (await get(`${pod.base}/readyz`, 1_000)).body.toString();
      expect(JSON.parse(body)).toMatchObject({ ready: false, workers: { wanted: 2, ready: 1 } });
      expect(body).toMatch(/has not reported/);
    } finally {
      process.kill(stuck, 'SIGCONT');
    }
    await until('the pod ready again', async () => (await status(`${pod.base}/readyz`)) === 200, 10_000);
  });

  it('SIGTERM: the primary stops every worker, then exits 0', async () => {
    const workers = pod.workerPids();
    await pod.stop();
    expect(await pod.exited).toBe(0);
    for (const pid of workers) expect(running(pid), `worker ${pid}`).toBe(false);
    expect(pod.logs.filter((l) => l.msg === 'shutting down' && l.worker !== undefined)).toHaveLength(2);
  });
});

describe('a primary killed outright', { timeout: 60_000 }, () => {
  it('leaves no worker behind: each notices its channel to the primary is gone and exits', async () => {
    const served = await oneResponseStore();
    const pod = await startPod(served, ['--workers', '2']);
    try {
      const workers = pod.workerPids();
      expect(workers).toHaveLength(2);
      pod.proc.kill('SIGKILL');
      await pod.exited;
      const took = await until('the workers to exit', () => workers.every((p) => !running(p)), 5_000);
      process.stderr.write(`workers gone ${took} ms after the primary was killed\n`);
    } finally {
      for (const p of pod.workerPids()) if (running(p)) process.kill(p, 'SIGKILL');
      await served.remove();
    }
  });
});
