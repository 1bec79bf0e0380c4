// The API client against a real kube-apiserver with priority and fairness on and a tight limit:
// a FlowSchema puts one user on a priority level of one seat that rejects (429) what it cannot
// serve, and the client must still get every answer by waiting out the Retry-After the server sends.
// Its own apiserver: the shared one runs with priority and fairness off.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueCert, kubeconfigFor, startControlPlane, type ControlPlane } from '../../src/devenv/control-plane.js';
import { KubeApiError, KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { NamespaceType, type ResourceType } from '../../src/kube/types.js';

const FLOW = 'flowcontrol.apiserver.k8s.io';
const PriorityLevelType: ResourceType = {
  group: FLOW,
  version: 'v1',
  plural: 'prioritylevelconfigurations',
  kind: 'PriorityLevelConfiguration',
  namespaced: false,
};
const FlowSchemaType: ResourceType = { group: FLOW, version: 'v1', plural: 'flowschemas', kind: 'FlowSchema', namespaced: false };

let plane: ControlPlane;
let flooderKubeconfig: string;

beforeAll(async () => {
  plane = await startControlPlane({
    authorizationModes: ['AlwaysAllow'],
    // Six seats in all, shared by the built-in priority levels by their shares: ours gets one.
    extraApiServerArgs: ['--enable-priority-and-fairness=true', '--max-requests-inflight=4', '--max-mutating-requests-inflight=2'],
  });
  // A user outside system:masters (which the exempt FlowSchema would match).
  await issueCert(plane.pkiDir, 'flooder', '/CN=flooder', 'extendedKeyUsage=clientAuth\n');
  flooderKubeconfig = join(plane.pkiDir, 'flooder.kubeconfig');
  await writeFile(flooderKubeconfig, await kubeconfigFor(plane.pkiDir, plane.server, 'flooder'));
  const admin = new KubeClient(loadKubeConfig(plane.kubeconfigPath));
  await admin.create(PriorityLevelType, {
    apiVersion: `${FLOW}/v1`,
    kind: 'PriorityLevelConfiguration',
    metadata: { name: 'tight' },
    spec: {
      type: 'Limited',
      limited: { nominalConcurrencyShares: 1, lendablePercent: 0, borrowingLimitPercent: 0, limitResponse: { type: 'Reject' } },
    },
  } as never);
  await admin.create(FlowSchemaType, {
    apiVersion: `${FLOW}/v1`,
    kind: 'FlowSchema',
    metadata: { name: 'flooder' },
    spec: {
      priorityLevelConfiguration: { name: 'tight' },
      matchingPrecedence: 100,
      distinguisherMethod: { type: 'ByUser' },
      rules: [
        {
          subjects: [{ kind: 'User', user: { name: 'flooder' } }],
          resourceRules: [{ verbs: ['*'], apiGroups: ['*'], resources: ['*'], clusterScope: true, namespaces: ['*'] }],
        },
      ],
    },
  } as never);
}, 240_000);

afterAll(async () => {
  await plane?.stop();
});

/** Fires `n` lists at once; the 429s that came back (a client with no retries gives them up). */
async function flood(client: KubeClient, n: number): Promise<{ ok: number; rejected: KubeApiError[] }> {
  const results = await Promise.allSettled(Array.from({ length: n }, () => client.list(NamespaceType)));
  const rejected = results.flatMap((r) =>
    r.status === 'rejected' && r.reason instanceof KubeApiError && r.reason.status === 429 ? [r.reason] : [],
  );
  const other = results.flatMap((r) =>
    r.status === 'rejected' && !(r.reason instanceof KubeApiError && r.reason.status === 429) ? [r.reason] : [],
  );
  if (other.length) throw other[0];
  return { ok: results.filter((r) => r.status === 'fulfilled').length, rejected };
}

describe('against priority and fairness with a tight limit', () => {
  it('a burst is rejected with 429 + Retry-After, and the retrying client still gets every answer', async () => {
    // The apiserver applies new flow objects asynchronously: flood until the limit bites (bounded).
    const noRetry = new KubeClient(loadKubeConfig(flooderKubeconfig), { retry: { maxRetries: 0 } });
    let rejected: KubeApiError[] = [];
    const deadline = Date.now() + 30_000;
    while (rejected.length === 0 && Date.now() < deadline) rejected = (await flood(noRetry, 40)).rejected;
    expect(rejected.length).toBeGreaterThan(0);
    const first = rejected[0] as KubeApiError;
    expect(first.message).toMatch(/^429 TooManyRequests: .*; gave up on GET after 1 attempt \(\/api\/v1\/namespaces\)$/);
    expect(first.retryAfterMs).toBeGreaterThan(0);

    const client = new KubeClient(loadKubeConfig(flooderKubeconfig));
    const { ok, rejected: gaveUp } = await flood(client, 40);
    expect(gaveUp).toEqual([]);
    expect(ok).toBe(40);
    expect(client.stats.retries).toBeGreaterThan(0);
  });
});
