// Per-staple metrics from the real controller against the real apiserver: once a staple is
// Stapled, its condition series and timestamps say what its status says; a failed refresh is
// counted by reason on the staple's own series; a deleted staple's series are gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OcspStapleType } from '../../src/kube/types.js';
import { createCa, issueLeaf, type Ca, type Issued } from '../support/pki.js';
import { startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { createNamespace, kubeClient, metricValue, putSecret, tlsSecret, waitFor } from '../support/kube.js';
import { createStaple, startStapleController, waitForReason, type Harness, type StapleObject } from '../support/staple-harness.js';

let ca: Ca;
let known: Issued;
let stranger: Issued;
let responder: ResponderHandle; // knows `known` only: says unknown for `stranger`
let ns: { name: string; remove(): Promise<void> };
let h: Harness;

beforeAll(async () => {
  ca = await createCa({ keyAlg: 'P-256', name: 'CN=Metrics Test CA' });
  known = await issueLeaf(ca, { dnsNames: ['known.test'] });
  stranger = await issueLeaf(ca, { dnsNames: ['stranger.test'] });
  responder = await startOpensslResponder({ ca, indexEntries: [{ cert: known.cert, status: 'V' }], nmin: 60 });
  ns = await createNamespace(kubeClient(), 'staple-metrics');
  h = await startStapleController(ns.name);
});

afterAll(async () => {
  await h?.stop();
  await ns?.remove();
  await responder?.stop();
});

const scrape = () => h.manager.metrics.registry.metrics();
const seconds = (t: string | undefined) => Date.parse(t!) / 1000;
// The harness types only the certificate fields other tests read; the status has notAfter too.
const certNotAfter = (s: StapleObject) => (s.status?.certificate as { notAfter?: string } | undefined)?.notAfter;

describe('per-staple metrics', () => {
  it('a Stapled staple: its conditions (kube-state-metrics shape), Ready with its reason, and its timestamps', async () => {
    await putSecret(h.client, tlsSecret(ns.name, 'good-tls', { certPem: known.chainPem, keyPem: known.keyPem }));
    await createStaple(h.client, ns.name, 'good', { secretName: 'good-tls', responderURL: responder.url });
    const s = await waitForReason(h.client, ns.name, 'good', 'Stapled');
    const me = { namespace: ns.name, name: 'good' };
    // The series are set right after the status write the test just read: wait for that moment.
    const text = await waitFor('the staple ready series', async () => {
      const t = await scrape();
      return metricValue(t, 'ocsp_operator_staple_ready', { ...me, reason: 'Stapled' }) === 1 ? t : undefined;
    });
    for (const c of s.status!.conditions!) {
      for (const status of ['True', 'False', 'Unknown']) {
        expect(metricValue(text, 'ocsp_operator_staple_condition', { ...me, type: c.type, status }), `${c.type} ${status}`).toBe(
          c.status === status ? 1 : 0,
        );
      }
    }
    expect(metricValue(text, 'ocsp_operator_staple_condition', { ...me, type: 'Ready', status: 'True' })).toBe(1);
    expect(metricValue(text, 'ocsp_operator_staple_not_after_timestamp_seconds', me)).toBe(seconds(certNotAfter(s)));
    expect(metricValue(text, 'ocsp_operator_staple_next_update_timestamp_seconds', me)).toBe(seconds(s.status?.staple?.nextUpdate));
    expect(metricValue(text, 'ocsp_operator_staple_usable_until_timestamp_seconds', me)).toBe(seconds(s.status?.staple?.usableUntil));
    // the certificate expires in the future, and the staple before it
    expect(metricValue(text, 'ocsp_operator_staple_not_after_timestamp_seconds', me)).toBeGreaterThan(Date.now() / 1000);
    expect(metricValue(text, 'ocsp_operator_staple_refresh_failures_total', { ...me })).toBeUndefined();
  });

  it('a failed refresh is counted by reason on the staple, and Ready=0 carries the reason', async () => {
    await putSecret(h.client, tlsSecret(ns.name, 'bad-tls', { certPem: stranger.chainPem, keyPem: stranger.keyPem }));
    await createStaple(h.client, ns.name, 'bad', {
      secretName: 'bad-tls',
      responderURL: responder.url,
      refresh: { retryInitial: '30s', retryMax: '5m' },
    });
    const s = await waitForReason(h.client, ns.name, 'bad', 'ResponderSaysUnknown');
    const me = { namespace: ns.name, name: 'bad' };
    const text = await waitFor('the staple ready series', async () => {
      const t = await scrape();
      return metricValue(t, 'ocsp_operator_staple_ready', { ...me, reason: 'ResponderSaysUnknown' }) === 0 ? t : undefined;
    });
    expect(
      metricValue(text, 'ocsp_operator_staple_refresh_failures_total', { ...me, reason: 'ResponderSaysUnknown' }),
    ).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'ocsp_operator_staple_condition', { ...me, type: 'Ready', status: 'False' })).toBe(1);
    expect(metricValue(text, 'ocsp_operator_staple_condition', { ...me, type: 'Ready', status: 'True' })).toBe(0);
    // no staple published: no next-update or usable-until series, but the certificate's expiry is known
    expect(metricValue(text, 'ocsp_operator_staple_next_update_timestamp_seconds', me)).toBeUndefined();
    expect(metricValue(text, 'ocsp_operator_staple_usable_until_timestamp_seconds', me)).toBeUndefined();
    expect(metricValue(text, 'ocsp_operator_staple_not_after_timestamp_seconds', me)).toBe(seconds(certNotAfter(s)));
  });

  it("a deleted staple's series are removed, the others stay", async () => {
    const before = await scrape();
    expect(metricValue(before, 'ocsp_operator_staple_ready', { namespace: ns.name, name: 'bad' })).toBe(0);
    await h.client.delete(OcspStapleType, ns.name, 'bad');
    const text = await waitFor('the deleted staple series to go', async () => {
      const t = await scrape();
      return metricValue(t, 'ocsp_operator_staple_ready', { namespace: ns.name, name: 'bad' }) === undefined ? t : undefined;
    });
    const series = text.split('\n').filter((l) => !l.startsWith('#') && l.includes(`namespace="${ns.name}",name="bad"`));
    expect(series).toEqual([]);
    expect(metricValue(text, 'ocsp_operator_staple_ready', { namespace: ns.name, name: 'good', reason: 'Stapled' })).toBe(1);
  });
});
