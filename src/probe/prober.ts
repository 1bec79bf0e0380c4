// The prober: every interval (by an injectable clock) it probes each TLS endpoint and keeps the
// latest result; the metrics are computed from those results at scrape time, so seconds-to-expiry
// is right between probes and an endpoint's series always describe one and the same probe.
//
//   ocsp_probe_tls_up                           1 when the handshake succeeded
//   ocsp_probe_staple_present                   1 when the server stapled a response
//   ocsp_probe_staple_valid                     1 when it validates for the served certificate (signature, window, signer)
//   ocsp_probe_staple_matches_certificate       1 when its CertID names the served certificate; absent without a staple
//   ocsp_probe_staple_expiry_seconds            until usableUntil (valid) or nextUpdate (not valid); negative = past; absent without one
//   ocsp_probe_staple_good                      1 when a valid staple says "good" (0: revoked or unknown)
//   ocsp_probe_last_success_timestamp_seconds   last probe that found a valid, matching, good staple; absent until one did
//   ocsp_probe_result{reason}                   1 for the latest result: Ok or the problem (NoStaple, StapleMismatch, Expired, …)
//
// Labels: endpoint (host:port) and servername (the SNI sent, "" for none).
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Clock, Timer } from '../base/clock.js';
import type { Logger } from '../runtime/logger.js';
import { ScrapedGauge, seriesOf } from '../runtime/scraped-gauge.js';
import { endpointAddress, endpointName, type Endpoint } from './endpoint.js';
import { probeEndpoint, type ProbeResult } from './tls-probe.js';

export interface ProberOptions {
  endpoints: Endpoint[];
  clock: Clock;
  registry: Registry;
  log: Logger;
  intervalMs: number;
  timeoutMs: number;
  /** called after each probe (tests wait on it) */
  onResult?: (r: ProbeResult) => void;
}

type Labels = { endpoint: string; servername: string };

function labelsOf(e: Endpoint): Labels {
  return { endpoint: endpointAddress(e), servername: e.servername ?? '' };
}

/** True when the probe found what a client wants: a valid staple for the served certificate, status good. */
export function isSuccess(r: ProbeResult): boolean {
  return (
    r.ok &&
    !r.problem &&
    r.check.staple.valid === true &&
    r.check.staple.matchesCertificate === true &&
    r.check.staple.validated?.certStatus === 'good'
  );
}

export class Prober {
  private readonly latest = new Map<string, ProbeResult>();
  private readonly lastSuccess = new Map<string, number>();
  private readonly timers = new Map<string, Timer>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly probes: Counter<'endpoint' | 'servername' | 'result'>;
  private readonly duration: Histogram<'endpoint' | 'servername'>;
  private running = false;

  private endpoints: Endpoint[];

  constructor(private readonly o: ProberOptions) {
    this.endpoints = [...o.endpoints];
    const keys = new Set<string>();
    for (const e of o.endpoints) {
      const k = endpointName(e);
      if (keys.has(k)) throw new Error(`endpoint ${k} is listed twice`);
      keys.add(k);
    }
    const latest = this.latest;
    const lastSuccess = this.lastSuccess;
    const clock = o.clock;
    const gauge = (name: string, help: string, value: (r: ProbeResult, key: string) => number | undefined) =>
      new ScrapedGauge({
        name,
        help,
        labelNames: ['endpoint', 'servername'] as const,
        registry: o.registry,
        series: () =>
          seriesOf(
            latest,
            ([, r]) => labelsOf(r.endpoint),
            ([key, r]) => value(r, key),
          ),
      });
    const staple = (r: ProbeResult) => (r.ok ? r.check.staple : undefined);
    const bool = (b: boolean) => (b ? 1 : 0);
    gauge('ocsp_probe_tls_up', 'Whether the last TLS handshake with the endpoint succeeded', (r) => bool(r.ok));
    gauge('ocsp_probe_staple_present', 'Whether the server stapled an OCSP response in the last handshake', (r) =>
      r.ok ? bool(r.check.staple.present) : undefined,
    );
    gauge(
      'ocsp_probe_staple_valid',
      'Whether the stapled response validates for the served certificate (signature, time window, signer)',
      (r) => (r.ok ? bool(r.check.staple.valid === true) : undefined),
    );
    gauge(
      'ocsp_probe_staple_matches_certificate',
      "Whether the stapled response's CertID names the served certificate (serial and issuer); absent without a staple",
      (r) => {
        const m = staple(r)?.matchesCertificate;
        return m === undefined ? undefined : bool(m);
      },
    );
    gauge(
      'ocsp_probe_staple_expiry_seconds',
      'Seconds until the served staple stops being usable (usableUntil when valid, else nextUpdate); negative = already past',
      (r) => {
        const at = staple(r)?.expiresAt;
        return at ? (at.getTime() - clock.now()) / 1000 : undefined;
      },
    );
    gauge('ocsp_probe_staple_good', 'Whether a valid staple says the certificate is good (0: revoked or unknown)', (r) => {
      const v = staple(r)?.validated;
      return v ? bool(v.certStatus === 'good') : undefined;
    });
    gauge(
      'ocsp_probe_last_success_timestamp_seconds',
      'When a probe last found a valid, matching, good staple (unix seconds)',
      (_r, key) => {
        const t = lastSuccess.get(key);
        return t === undefined ? undefined : t / 1000;
      },
    );
    new ScrapedGauge({
      name: 'ocsp_probe_result',
      help: 'The latest probe result per endpoint: reason Ok, or the problem found (NoStaple, StapleMismatch, Expired, HandshakeFailed, ...)',
      labelNames: ['endpoint', 'servername', 'reason'] as const,
      registry: o.registry,
      series: () =>
        seriesOf(
          latest.values(),
          (r) => ({ ...labelsOf(r.endpoint), reason: r.problem?.reason ?? 'Ok' }),
          () => 1,
        ),
    });
    this.probes = new Counter({
      name: 'ocsp_probe_total',
      help: 'Probes by endpoint and result (ok, problem, error)',
      labelNames: ['endpoint', 'servername', 'result'] as const,
      registers: [o.registry],
    });
    this.duration = new Histogram({
      name: 'ocsp_probe_duration_seconds',
      help: 'TLS handshake time of a probe',
      labelNames: ['endpoint', 'servername'] as const,
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [o.registry],
    });
  }

  /** The latest result per endpoint name (`host:port[@servername]`). */
  results(): ReadonlyMap<string, ProbeResult> {
    return this.latest;
  }

  /** Probes one endpoint now and records the result. */
  async probe(e: Endpoint): Promise<ProbeResult> {
    const key = endpointName(e);
    const r = await probeEndpoint(e, { now: () => new Date(this.o.clock.now()), timeoutMs: this.o.timeoutMs });
    const prev = this.latest.get(key);
    this.latest.set(key, r);
    const labels = labelsOf(e);
    this.duration.observe(labels, r.latencyMs / 1000);
    const ok = isSuccess(r);
    this.probes.inc({ ...labels, result: !r.ok ? 'error' : ok ? 'ok' : 'problem' });
    if (ok) this.lastSuccess.set(key, r.at.getTime());
    const fields = {
      endpoint: key,
      reason: r.problem?.reason ?? 'Ok',
      ...(r.ok
        ? {
            certificateSerial: r.check.certificate.serial,
            stapleFor: r.check.staple.entries?.map((x) => x.serial),
            expiresAt: r.check.staple.expiresAt?.toISOString(),
          }
        : {}),
    };
    if (r.problem) this.o.log.warn(fields, `${key}: ${r.problem.message}`);
    else if (prev?.problem || !prev)
      this.o.log.info(fields, `${key}: staple valid for certificate ${r.ok ? r.check.certificate.serial : ''}`);
    else this.o.log.debug(fields, `${key}: ok`);
    this.o.onResult?.(r);
    return r;
  }

  /**
   * Replaces the endpoints (discovery: they come and go with the OcspStaples that declare them).
   * New ones are probed at once while running; removed ones stop and leave the metrics.
   */
  setEndpoints(endpoints: Endpoint[]): void {
    const next = new Map(endpoints.map((e) => [endpointName(e), e]));
    for (const e of this.endpoints) {
      const key = endpointName(e);
      if (next.has(key)) continue;
      this.timers.get(key)?.cancel();
      this.timers.delete(key);
      this.latest.delete(key);
      this.lastSuccess.delete(key);
    }
    const added = [...next.values()].filter((e) => !this.endpoints.some((x) => endpointName(x) === endpointName(e)));
    this.endpoints = [...next.values()];
    if (this.running) for (const e of added) this.loop(e);
  }

  /** Probes every endpoint once, in parallel. */
  async probeAll(): Promise<ProbeResult[]> {
    return Promise.all(this.endpoints.map((e) => this.probe(e)));
  }

  /** Probes every endpoint now, then again every interval (by the clock), until stop(). */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const e of this.endpoints) this.loop(e);
  }

  private loop(e: Endpoint): void {
    if (!this.running || !this.endpoints.some((x) => endpointName(x) === endpointName(e))) return;
    const p = this.probe(e)
      .catch((err: unknown) => this.o.log.error({ endpoint: endpointName(e), err }, 'probe failed unexpectedly'))
      .then(() => {
        this.inFlight.delete(p);
        if (!this.running) return;
        // an endpoint removed during its probe leaves no result behind
        if (!this.endpoints.some((x) => endpointName(x) === endpointName(e))) this.latest.delete(endpointName(e));
        else
          this.timers.set(
            endpointName(e),
            this.o.clock.setTimer(() => this.loop(e), this.o.intervalMs),
          );
      });
    this.inFlight.add(p);
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    await Promise.all([...this.inFlight]);
  }
}
