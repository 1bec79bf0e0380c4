// The API client speaks HTTP/2 to the real apiserver (src/kube/http2-connection.ts): a burst of
// concurrent reads and writes travels over one TLS connection, every answer is the apiserver's own,
// and its refusals still come back as KubeApiErrors with the Status reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNotFound, KubeApiError, type KubeClient } from '../../src/kube/client.js';
import { ConfigMapType, type KubeObject } from '../../src/kube/types.js';
import { createNamespace, kubeClient } from '../support/kube.js';

let client: KubeClient;
let ns: { name: string; remove(): Promise<void> };

beforeAll(async () => {
  client = kubeClient();
  ns = await createNamespace(client, 'http2');
});

afterAll(async () => {
  await ns?.remove();
});

describe('KubeClient over HTTP/2', () => {
  it('sends 64 concurrent writes and reads over one connection', async () => {
    const names = Array.from({ length: 64 }, (_, i) => `cm-${i}`);
    const created = await Promise.all(
      names.map((name, i) =>
        client.create<KubeObject & { data?: Record<string, string> }>(ConfigMapType, {
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: { name, namespace: ns.name },
          data: { i: String(i) },
        }),
      ),
    );
    expect(created.map((c) => c.metadata?.uid).every(Boolean)).toBe(true);
    const read = await Promise.all(
      names.map((name) => client.get<KubeObject & { data?: Record<string, string> }>(ConfigMapType, ns.name, name)),
    );
    expect(read.map((c) => c.data?.i)).toEqual(names.map((_, i) => String(i)));
    expect(read.map((c) => c.metadata?.resourceVersion)).toEqual(created.map((c) => c.metadata?.resourceVersion));
    // The apiserver chose h2 by ALPN, and every request above shared the one connection.
    expect(client.http2?.connections).toBe(1);
  });

  it('a refusal is a KubeApiError with the Status reason, on the same connection', async () => {
    const err = await client.get(ConfigMapType, ns.name, 'no-such-map').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(isNotFound(err)).toBe(true);
    expect((err as KubeApiError).apiMessage).toMatch(/no-such-map/);
    expect(client.http2?.connections).toBe(1);
  });
});
