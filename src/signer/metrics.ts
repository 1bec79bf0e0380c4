// The signer's Prometheus metrics on a registry the caller owns (one per process in production,
// one per test): the pool controller scales signers on `ocsp_signer_backlog` and the measured
// `ocsp_signer_signing_rate`.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Backlog, WorkReason } from './planner.js';

export class SignerMetrics {
  readonly signatures: Counter<'reason'>;
  readonly errors: Counter<'reason'>;
  readonly rate: Gauge;
  readonly batchLatency: Histogram;
  readonly roundDuration: Histogram;
  readonly backlog: Gauge<'kind'>;
  readonly oldestAge: Gauge;
  readonly certificates: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    this.signatures = new Counter({
      name: 'ocsp_signer_signatures_total',
      help: 'Responses signed and stored, by why they were due',
      labelNames: ['reason'],
      registers,
    });
    this.errors = new Counter({
      name: 'ocsp_signer_errors_total',
      help: 'Responses that failed to sign or store, by why they were due',
      labelNames: ['reason'],
      registers,
    });
    this.rate = new Gauge({
      name: 'ocsp_signer_signing_rate',
      help: 'Signatures per second over the last round that signed anything',
      registers,
    });
    this.batchLatency = new Histogram({
      name: 'ocsp_signer_batch_latency_seconds',
      help: 'Time for one batch of responses to be durable in the store (put)',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.roundDuration = new Histogram({
      name: 'ocsp_signer_round_duration_seconds',
      help: 'One plan-sign-store round',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
      registers,
    });
    this.backlog = new Gauge({
      name: 'ocsp_signer_backlog',
      help: 'Certificates due for signing (kind=due) and by cause',
      labelNames: ['kind'],
      registers,
    });
    this.oldestAge = new Gauge({
      name: 'ocsp_signer_oldest_response_age_seconds',
      help: 'Age of the oldest response of an unexpired certificate (-1 when none)',
      registers,
    });
    this.certificates = new Gauge({ name: 'ocsp_signer_certificates', help: 'Unexpired certificates in the sources', registers });
  }

  signed(reason: WorkReason, n = 1): void {
    this.signatures.inc({ reason }, n);
  }

  setBacklog(b: Backlog): void {
    this.backlog.set({ kind: 'due' }, b.due);
    this.backlog.set({ kind: 'missing' }, b.missing);
    this.backlog.set({ kind: 'status' }, b.status);
    this.backlog.set({ kind: 'refresh' }, b.refresh);
    this.backlog.set({ kind: 'signer' }, b.signer);
    this.oldestAge.set(b.oldestAgeMs === undefined ? -1 : b.oldestAgeMs / 1000);
    this.certificates.set(b.certificates);
  }
}
