// The Helm chart as users install it: helm lint, the values schema, what each mode renders, and
// every rendering accepted by the real apiserver (`kubectl apply --dry-run=server`, strict field
// validation). The CRDs in the chart are the CRDs in crds/, byte for byte; with crds.enabled the
// templates render those same files.
import { readdir, readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';
import { CrdType, type KubeObject } from '../../src/kube/types.js';
import { createNamespace, kubeClient, kubeconfigPath, kubectl, waitFor } from '../support/kube.js';
import { renderPool } from '../support/pool-render.js';
import {
  CHART_DIR,
  deploymentOf,
  helm,
  helmBinary,
  helmTemplate,
  ofKind,
  parseManifests,
  valueArgs,
  type RenderedObject,
  type Values,
} from './helm.js';

const client = kubeClient();

describe('chart files', () => {
  it('charts/ocsp-operator/crds/ holds exactly the CRDs of crds/, byte for byte', async () => {
    const src = join(repoRoot(), 'crds');
    const chart = join(CHART_DIR, 'crds');
    const files = (await readdir(src)).filter((f) => f.endsWith('.yaml')).sort();
    expect(files.length).toBeGreaterThan(0);
    expect((await readdir(chart)).sort(), 'the same files (copy them: cp crds/*.yaml charts/ocsp-operator/crds/)').toEqual(files);
    for (const f of files) {
      const [a, b] = await Promise.all([readFile(join(src, f)), readFile(join(chart, f))]);
      expect(b.equals(a), `charts/ocsp-operator/crds/${f} differs from crds/${f}: cp crds/*.yaml charts/ocsp-operator/crds/`).toBe(true);
    }
  });
});

describe('helm lint and the values schema', () => {
  beforeAll(async () => {
    await helmBinary(); // the first run builds helm from hack/helm/go.mod
  }, 15 * 60_000);

  it.each<[string, Values]>([
    ['default values', {}],
    ['namespaced mode', { json: { watchNamespaces: ['team-a', 'team-b'] } }],
    [
      'monitoring on',
      {
        set: {
          'serviceMonitor.enabled': true,
          'poolPodMonitor.enabled': true,
          'prometheusRule.enabled': true,
          'prometheusRule.signers.enabled': true,
          'prometheusRule.responders.enabled': true,
        },
      },
    ],
    ['no leader election, one replica', { set: { replicaCount: 1, 'leaderElection.enabled': false } }],
    [
      'pools off, probe ConfigMap, NetworkPolicy, CRDs as templates',
      { set: { 'pools.enabled': false, 'probe.endpointsConfigMap.name': 'eps', 'networkPolicy.enabled': true, 'crds.enabled': true } },
    ],
  ])('helm lint --strict passes with %s', async (_name, values) => {
    const r = await helm(['lint', '--strict', CHART_DIR, ...valueArgs(values)]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it.each<[string, Values, RegExp]>([
    ['an unknown key', { set: { replicas: 3 } }, /additional properties 'replicas' not allowed/],
    ['a namespace that is no DNS label', { json: { watchNamespaces: ['Team_A'] } }, /watchNamespaces\/0/],
    ['the same namespace twice', { json: { watchNamespaces: ['a', 'a'] } }, /watchNamespaces/],
    ['zero workers', { set: { 'controller.workers': 0 } }, /workers/],
    ['a bad pull policy', { set: { 'image.pullPolicy': 'Sometimes' } }, /pullPolicy/],
    ['a signer image digest that is no sha256', { set: { 'signerImage.digest': 'latest' } }, /signerImage\/digest|signerImage.digest/],
    ['a bad alert duration', { set: { 'prometheusRule.for': 'five minutes' } }, /for/],
    [
      'a NetworkPolicy port out of range',
      { json: { 'networkPolicy.egress.ocspResponders.ports': [80, 70000] } },
      /ocspResponders\/ports\/1|ocspResponders.ports/,
    ],
    ['a misspelt crds key', { set: { 'crds.keepp': true } }, /keepp/],
    ['pools.enabled as a string', { json: { pools: { enabled: 'no' } } }, /pools\/enabled|pools.enabled/],
    [
      'a pool namespace that is no DNS label',
      { json: { poolPodMonitor: { enabled: true, namespaces: ['Team_A'] } } },
      /poolPodMonitor\/namespaces\/0|poolPodMonitor.namespaces/,
    ],
  ])('values.schema.json rejects %s', async (_name, values, message) => {
    const r = await helm(['template', 'x', CHART_DIR, ...valueArgs(values)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

describe('what the chart renders', () => {
  it('default values: cluster-wide RBAC, two leader-elected replicas, probes, resources, non-root, read-only root', async () => {
    const objs = parseManifests(await helmTemplate('op', 'ocsp-system'));
    const kinds = objs.map((o) => o.kind).sort();
    expect(kinds).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    const { spec, container } = deploymentOf(objs);
    expect(spec.replicas).toBe(2);
    expect(container.args).toEqual(
      expect.arrayContaining([
        'controller',
        '--leader-elect',
        '--leader-election-namespace=ocsp-system',
        '--lease-name=op-ocsp-operator',
        '--health-addr=0.0.0.0:8080',
      ]),
    );
    expect(container.args?.some((a) => a.startsWith('--namespaces'))).toBe(false);
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container.resources?.requests?.cpu).toBeTruthy();
    expect(container.resources?.requests?.memory).toBeTruthy();
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(container.env?.map((e) => e.name)).toEqual(expect.arrayContaining(['POD_NAME', 'POD_NAMESPACE']));
    // V8's heap capped below the memory limit (controller.maxHeapMiB), so it collects instead of growing into an OOM kill
    const nodeOptions = container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
    const heap = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)?.[1]);
    const limit = /^(\d+)(Mi|Gi)$/.exec(container.resources?.limits?.memory ?? '');
    const limitMiB = Number(limit?.[1]) * (limit?.[2] === 'Gi' ? 1024 : 1);
    expect(heap, 'NODE_OPTIONS sets --max-old-space-size').toBeGreaterThan(0);
    // and its young generation, which Node 24 would size from the node's memory, not the pod's
    expect(nodeOptions).toMatch(/ --max-semi-space-size=8$/);
    expect(limitMiB - heap, 'at least 200 MiB of the limit left beside the heap').toBeGreaterThanOrEqual(200);
    // the leader-election Role is in the release namespace and names its one Lease
    const [leRole] = ofKind(objs, 'Role');
    expect(leRole?.metadata?.namespace).toBe('ocsp-system');
    expect(leRole?.rules).toContainEqual({
      apiGroups: ['coordination.k8s.io'],
      resources: ['leases'],
      resourceNames: ['op-ocsp-operator'],
      verbs: ['get', 'update'],
    });
    // nothing in the ClusterRole touches leases, nodes, pods or RBAC, and nothing deletes Secrets
    const [cr] = ofKind(objs, 'ClusterRole');
    const resources = cr?.rules?.flatMap((r) => r.resources ?? []) ?? [];
    for (const r of ['leases', 'pods', 'nodes', 'clusterroles', 'clusterrolebindings', 'namespaces', '*'])
      expect(resources).not.toContain(r);
    expect(cr?.rules?.filter((r) => r.resources?.includes('secrets')).flatMap((r) => r.verbs ?? [])).not.toContain('delete');
    expect(cr?.rules?.flatMap((r) => r.verbs ?? [])).not.toContain('*');
  });

  it('namespaced mode: a Role and RoleBinding per watched namespace, nothing cluster-wide', async () => {
    const objs = parseManifests(await helmTemplate('op', 'ocsp-system', { json: { watchNamespaces: ['team-a', 'team-b'] } }));
    expect(ofKind(objs, 'ClusterRole')).toEqual([]);
    expect(ofKind(objs, 'ClusterRoleBinding')).toEqual([]);
    const roles = ofKind(objs, 'Role')
      .map((r) => `${r.metadata?.namespace}/${r.metadata?.name}`)
      .sort();
    expect(roles).toEqual(['ocsp-system/op-ocsp-operator-leader-election', 'team-a/op-ocsp-operator', 'team-b/op-ocsp-operator']);
    const bindings = ofKind(objs, 'RoleBinding');
    expect(bindings).toHaveLength(3);
    for (const b of bindings) expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'op-ocsp-operator', namespace: 'ocsp-system' }]);
    expect(deploymentOf(objs).container.args).toContain('--namespaces=team-a,team-b');
  });

  it('monitoring: a ServiceMonitor on the metrics Service and a PrometheusRule', async () => {
    const objs = parseManifests(
      await helmTemplate('op', 'ocsp-system', { set: { 'serviceMonitor.enabled': true, 'prometheusRule.enabled': true } }),
    );
    const [svc] = ofKind(objs, 'Service');
    const [sm] = ofKind(objs, 'ServiceMonitor');
    const [rule] = ofKind(objs, 'PrometheusRule');
    expect(sm?.spec).toMatchObject({
      selector: { matchLabels: (svc?.spec as { selector?: Record<string, string> }).selector },
      endpoints: [{ port: 'metrics', path: '/metrics' }],
    });
    const groups = (rule?.spec as { groups: Array<{ name: string; rules: Array<{ alert: string }> }> }).groups;
    expect(groups.map((g) => g.name)).toEqual(['ocsp-operator.staples', 'ocsp-operator.pools']); // pools.enabled is the default
    expect(groups[0]?.rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['OcspStapleExpiringSoon', 'OcspStapleExpiringCritical', 'OcspStapleRefreshFailing', 'OcspOperatorNoLeader']),
    );
    expect(ofKind(objs, 'PodMonitor')).toEqual([]); // pool pods only when asked
  });

  it('pool pods: a PodMonitor that selects the pods every pool shape renders, on their `metrics` ports, in the pools’ namespaces', async () => {
    interface PodMonitorSpec {
      selector: { matchExpressions: Array<{ key: string; operator: string; values?: string[] }> };
      namespaceSelector: { any?: boolean; matchNames?: string[] };
      podMetricsEndpoints: Array<{ port: string; path: string }>;
    }
    const monitorOf = async (values: Values) => {
      const [pm, ...more] = ofKind(parseManifests(await helmTemplate('op', 'ocsp-system', values)), 'PodMonitor');
      expect(more).toEqual([]);
      return pm?.spec as unknown as PodMonitorSpec;
    };
    const all = await monitorOf({ set: { 'poolPodMonitor.enabled': true } });
    expect(all.namespaceSelector).toEqual({ any: true });
    expect(all.podMetricsEndpoints).toMatchObject([{ port: 'metrics', path: '/metrics' }]);
    // namespaced mode scrapes the watched namespaces; a list of its own wins
    expect(
      (await monitorOf({ set: { 'poolPodMonitor.enabled': true }, json: { watchNamespaces: ['team-a', 'team-b'] } })).namespaceSelector,
    ).toEqual({ matchNames: ['team-a', 'team-b'] });
    expect(
      (await monitorOf({ json: { poolPodMonitor: { enabled: true, namespaces: ['pki'] }, watchNamespaces: ['team-a'] } }))
        .namespaceSelector,
    ).toEqual({ matchNames: ['pki'] });

    // What the operator renders: every pod of every shape is selected, and each of its containers
    // serves a port named `metrics`, distinct where two share a pod; the OCSP port serves none.
    const selects = (labels: Record<string, string>) =>
      all.selector.matchExpressions.every((e) =>
        e.operator === 'Exists' ? e.key in labels : e.operator === 'In' ? (e.values ?? []).includes(labels[e.key] ?? '') : false,
      );
    const base = {
      issuer: { secretName: 'ca' },
      signing: { softwareKey: { secretName: 'ca' } },
      sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
    };
    for (const spec of [
      base,
      { ...base, store: { type: 'Redis', redis: { primaryURL: 'redis://r:6379', replicaURLs: ['redis://a:6379', 'redis://b:6379'] } } },
    ]) {
      const { templates } = renderPool(spec);
      expect(templates.length).toBeGreaterThan(0);
      for (const { workload, template } of templates) {
        expect(selects(template.metadata.labels ?? {}), workload).toBe(true);
        const ports = template.spec.containers.map(
          (c) => (c.ports as Array<{ name: string; containerPort: number }>).find((p) => p.name === 'metrics')?.containerPort,
        );
        expect(
          ports.every((p) => p !== undefined),
          `${workload}: a metrics port in every container`,
        ).toBe(true);
        expect(new Set(ports).size, `${workload}: distinct metrics ports`).toBe(ports.length);
        const responder = template.spec.containers.find((c) => c.name === 'responder');
        if (responder) expect(responder.args as string[]).toEqual(expect.arrayContaining(['--metrics-addr', '0.0.0.0:9091']));
      }
    }
  });

  it("pools.enabled=false: --pools=false, and none of the pools' rights in either mode", async () => {
    const POOL_ONLY = [
      'ocspresponderpools',
      'ocspresponderpools/status',
      'ocspresponderpools/finalizers',
      'deployments',
      'statefulsets',
      'services',
      'serviceaccounts',
      'roles',
      'rolebindings',
      'ingresses',
      'horizontalpodautoscalers',
      'poddisruptionbudgets',
      'endpointslices',
      'configmaps',
    ];
    const rulesOf = (objs: RenderedObject[]) =>
      [...ofKind(objs, 'ClusterRole'), ...ofKind(objs, 'Role')].flatMap((r) => r.rules ?? []).flatMap((r) => r.resources ?? []);
    const on = parseManifests(await helmTemplate('op', 'ocsp-system'));
    expect(rulesOf(on)).toEqual(expect.arrayContaining(POOL_ONLY));
    expect(deploymentOf(on).container.args?.some((a) => a.startsWith('--pools'))).toBe(false);
    for (const values of [
      { set: { 'pools.enabled': false } },
      { set: { 'pools.enabled': false }, json: { watchNamespaces: ['team-a'] } },
    ]) {
      const off = parseManifests(await helmTemplate('op', 'ocsp-system', values));
      expect(rulesOf(off).filter((r) => POOL_ONLY.includes(r))).toEqual([]);
      expect(rulesOf(off)).toEqual(expect.arrayContaining(['ocspstaples', 'ocspstaples/status', 'secrets', 'events', 'certificates']));
      expect(deploymentOf(off).container.args).toContain('--pools=false');
    }
  });

  it('probe.endpointsConfigMap: the ConfigMap mounted read-only where --probe-endpoints-file points', async () => {
    interface PodSpec {
      volumes?: Array<{ name: string; configMap?: { name: string } }>;
      containers: Array<{ volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>;
    }
    const none = deploymentOf(parseManifests(await helmTemplate('op', 'ocsp-system')));
    expect(none.container.args?.some((a) => a.startsWith('--probe-endpoints-file'))).toBe(false);
    const objs = parseManifests(
      await helmTemplate('op', 'ocsp-system', {
        set: {
          'probe.endpointsConfigMap.name': 'probe-endpoints',
          'probe.endpointsConfigMap.key': 'servers.yaml',
          'probe.intervalMs': 30000,
        },
      }),
    );
    const { spec, container } = deploymentOf(objs);
    const pod = spec.template.spec as unknown as PodSpec;
    const file = container.args?.find((a) => a.startsWith('--probe-endpoints-file='))?.split('=')[1] ?? '';
    expect(container.args).toContain('--probe-interval-ms=30000');
    const volume = pod.volumes?.find((v) => v.configMap?.name === 'probe-endpoints');
    const mount = pod.containers[0]?.volumeMounts?.find((m) => m.name === volume?.name);
    expect(mount?.readOnly).toBe(true);
    expect(file).toBe(`${mount?.mountPath}/servers.yaml`);
    // extra volumes and mounts go through as given
    const extra = deploymentOf(
      parseManifests(
        await helmTemplate('op', 'ocsp-system', {
          json: {
            extraVolumes: [{ name: 'issuers', secret: { secretName: 'probe-issuers' } }],
            extraVolumeMounts: [{ name: 'issuers', mountPath: '/etc/issuers', readOnly: true }],
          },
        }),
      ),
    );
    expect((extra.spec.template.spec as unknown as PodSpec).volumes).toContainEqual({
      name: 'issuers',
      secret: { secretName: 'probe-issuers' },
    });
    expect((extra.spec.template.spec as unknown as PodSpec).containers[0]?.volumeMounts).toContainEqual({
      name: 'issuers',
      mountPath: '/etc/issuers',
      readOnly: true,
    });
  });

  it('networkPolicy: none by default; enabled, ingress to the metrics port from the peers given, egress to apiserver, DNS and responders', async () => {
    expect(ofKind(parseManifests(await helmTemplate('op', 'ocsp-system')), 'NetworkPolicy')).toEqual([]);
    const prometheus = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
    };
    const objs = parseManifests(
      await helmTemplate('op', 'ocsp-system', {
        set: { 'networkPolicy.enabled': true, 'metrics.port': 9443 },
        json: {
          'networkPolicy.ingress.from': [prometheus],
          'networkPolicy.egress.apiServer.to': [{ ipBlock: { cidr: '10.0.0.1/32' } }],
          'networkPolicy.egress.ocspResponders.ports': [80, 443, 8080],
        },
      }),
    );
    const [np, ...more] = ofKind(objs, 'NetworkPolicy');
    expect(more).toEqual([]);
    interface Rule {
      ports: Array<{ port: number; protocol: string }>;
      from?: unknown[];
      to?: unknown[];
    }
    const spec = np?.spec as unknown as {
      podSelector: { matchLabels: Record<string, string> };
      policyTypes: string[];
      ingress: Rule[];
      egress: Rule[];
    };
    const d = ofKind(objs, 'Deployment')[0]?.spec as unknown as { selector: { matchLabels: Record<string, string> } };
    expect(spec.podSelector.matchLabels).toEqual(d.selector.matchLabels);
    expect(spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(spec.ingress).toEqual([{ ports: [{ port: 9443, protocol: 'TCP' }], from: [prometheus] }]);
    expect(spec.egress).toEqual([
      {
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 6443, protocol: 'TCP' },
        ],
        to: [{ ipBlock: { cidr: '10.0.0.1/32' } }],
      },
      {
        ports: [
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ],
        to: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
            podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
          },
        ],
      },
      { ports: [80, 443, 8080].map((port) => ({ port, protocol: 'TCP' })) },
    ]);
  });

  it('crds.enabled: the CRDs of crds/ as templates, byte for byte below the metadata, kept by default (crds.keep)', async () => {
    expect(ofKind(parseManifests(await helmTemplate('op', 'ocsp-system')), 'CustomResourceDefinition')).toEqual([]);
    const src = join(repoRoot(), 'crds');
    const files = (await readdir(src)).filter((f) => f.endsWith('.yaml')).sort();
    const text = await helmTemplate('op', 'ocsp-system', { set: { 'crds.enabled': true } });
    const crds = ofKind(parseManifests(text), 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata?.name).sort()).toEqual(files.map((f) => f.replace(/^([^_]+)_(.+)\.yaml$/, '$2.$1')).sort());
    for (const f of files) {
      const file = await readFile(join(src, f), 'utf8');
      const [want] = parseManifests(file);
      const got = crds.find((c) => c.metadata?.name === want?.metadata?.name);
      expect(got?.metadata?.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
      expect(got?.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
      const { labels: _l, annotations: _a, ...meta } = got?.metadata ?? {};
      expect({ ...got, metadata: meta }).toEqual(want);
      // The text is the file's, with the lines Helm needs added under `metadata:`.
      expect(text).toContain(file.slice(file.indexOf('\nspec:\n')));
    }
    const unkept = ofKind(
      parseManifests(await helmTemplate('op', 'ocsp-system', { set: { 'crds.enabled': true, 'crds.keep': false } })),
      'CustomResourceDefinition',
    );
    expect(unkept).toHaveLength(files.length);
    for (const c of unkept) expect(c.metadata?.annotations?.['helm.sh/resource-policy']).toBeUndefined();
  });
});

/** Minimal stand-ins for prometheus-operator's CRDs (only the fields the chart writes), unless a real one exists. */
function monitoringCrd(plural: string, kind: string, spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: 'monitoring.coreos.com',
      scope: 'Namespaced',
      names: { plural, kind, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', properties: { spec } } } }],
    },
  } as KubeObject;
}

const str = { type: 'string' };
const strMap = { type: 'object', additionalProperties: str };
const STAND_INS = [
  monitoringCrd('servicemonitors', 'ServiceMonitor', {
    type: 'object',
    properties: {
      selector: { type: 'object', properties: { matchLabels: strMap } },
      namespaceSelector: { type: 'object', properties: { matchNames: { type: 'array', items: str } } },
      endpoints: {
        type: 'array',
        items: {
          type: 'object',
          properties: { port: str, path: str, interval: str, scrapeTimeout: str, honorLabels: { type: 'boolean' } },
        },
      },
    },
  }),
  monitoringCrd('podmonitors', 'PodMonitor', {
    type: 'object',
    properties: {
      selector: {
        type: 'object',
        properties: {
          matchLabels: strMap,
          matchExpressions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['key', 'operator'],
              properties: { key: str, operator: str, values: { type: 'array', items: str } },
            },
          },
        },
      },
      namespaceSelector: { type: 'object', properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: str } } },
      podMetricsEndpoints: {
        type: 'array',
        items: { type: 'object', properties: { port: str, path: str, interval: str, scrapeTimeout: str } },
      },
    },
  }),
  monitoringCrd('prometheusrules', 'PrometheusRule', {
    type: 'object',
    properties: {
      groups: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name', 'rules'],
          properties: {
            name: str,
            rules: {
              type: 'array',
              items: {
                type: 'object',
                required: ['expr'],
                properties: {
                  alert: str,
                  record: str,
                  expr: { 'x-kubernetes-int-or-string': true },
                  for: str,
                  labels: strMap,
                  annotations: strMap,
                },
              },
            },
          },
        },
      },
    },
  }),
];

describe('the real apiserver accepts every rendering (kubectl apply --dry-run=server --validate=strict)', () => {
  let dir: string;
  const namespaces: Array<{ name: string; remove(): Promise<void> }> = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ocsp-chart-'));
    for (const crd of STAND_INS) {
      if (!(await client.getOrUndefined(CrdType, undefined, crd.metadata?.name ?? ''))) await client.create(CrdType, crd);
      await waitFor(`${crd.metadata?.name} established`, async () => {
        const c = await client.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(
          CrdType,
          undefined,
          crd.metadata?.name ?? '',
        );
        return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
      });
    }
  });
  afterAll(async () => {
    await Promise.all(namespaces.map((n) => n.remove()));
    await rm(dir, { recursive: true, force: true });
  });

  async function serverDryRun(
    name: string,
    values: (ns: { release: string; watched: string[] }) => Values,
    o: { includeCrds?: boolean; watched?: number } = {},
  ): Promise<RenderedObject[]> {
    const release = await createNamespace(client, 'chart');
    namespaces.push(release);
    const watched: string[] = [];
    for (let i = 0; i < (o.watched ?? 0); i++) {
      const w = await createNamespace(client, 'watched');
      namespaces.push(w);
      watched.push(w.name);
    }
    const text = await helmTemplate(name, release.name, values({ release: release.name, watched }), { includeCrds: o.includeCrds });
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, text);
    const r = await kubectl([
      'apply',
      '--dry-run=server',
      '--validate=strict',
      '--server-side',
      '--field-manager=helm-dry-run',
      '-f',
      file,
    ]);
    expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
    const objs = parseManifests(text);
    // every object answered "(server dry run)"
    expect(r.stdout.split('\n').filter((l) => l.includes('(server dry run)'))).toHaveLength(objs.length);
    return objs;
  }

  it('default values, with the CRDs', async () => {
    const objs = await serverDryRun('def', () => ({}), { includeCrds: true });
    expect(ofKind(objs, 'CustomResourceDefinition')).toHaveLength(2);
  });

  it('namespaced mode (two watched namespaces)', async () => {
    const objs = await serverDryRun('nsd', ({ watched }) => ({ json: { watchNamespaces: watched } }), { watched: 2 });
    expect(ofKind(objs, 'Role')).toHaveLength(3);
  });

  it('everything on: ServiceMonitor, the pools’ PodMonitor, PrometheusRule with the signer and responder alerts, the Grafana dashboard, digest-pinned image', async () => {
    const objs = await serverDryRun('mon', () => ({
      set: {
        'serviceMonitor.enabled': true,
        'poolPodMonitor.enabled': true,
        'prometheusRule.enabled': true,
        'prometheusRule.signers.enabled': true,
        'prometheusRule.responders.enabled': true,
        'grafana.dashboard.enabled': true,
        'image.digest': `sha256:${'a'.repeat(64)}`,
      },
    }));
    expect(ofKind(objs, 'PrometheusRule')).toHaveLength(1);
    expect(ofKind(objs, 'ConfigMap').map((o) => o.metadata?.labels?.grafana_dashboard)).toEqual(['1']);
    expect(ofKind(objs, 'PodMonitor')).toHaveLength(1);
    expect(deploymentOf(objs).container.image).toBe(`ocsp-operator@sha256:${'a'.repeat(64)}`);
    // The signer image is its own reference: a digest on the operator image never leaks into it.
    expect(deploymentOf(objs).container.args).toContain('--pool-signer-image=ocsp-operator-signer:0.1.0');
  });

  it('the PKCS#11 signer image by its own repository, tag or digest', async () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    const byDigest = await serverDryRun('sgd', () => ({
      set: { 'signerImage.repository': 'registry.example/ca/signer', 'signerImage.digest': digest },
    }));
    expect(deploymentOf(byDigest).container.args).toContain(`--pool-signer-image=registry.example/ca/signer@${digest}`);
    const byTag = await serverDryRun('sgt', () => ({ set: { 'signerImage.tag': '1.2.3' } }));
    expect(deploymentOf(byTag).container.args).toContain('--pool-signer-image=ocsp-operator-signer:1.2.3');
  });

  it('pools off, the probe ConfigMap, a NetworkPolicy with peers and extra rules, and the CRDs as kept templates', async () => {
    const objs = await serverDryRun('h6', ({ release }) => ({
      set: {
        'pools.enabled': false,
        'probe.endpointsConfigMap.name': 'probe-endpoints',
        'networkPolicy.enabled': true,
        'crds.enabled': true,
      },
      json: {
        'networkPolicy.ingress.from': [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': release } } }],
        'networkPolicy.egress.apiServer.to': [{ ipBlock: { cidr: '10.96.0.1/32' } }, { ipBlock: { cidr: '192.168.0.0/16' } }],
        'networkPolicy.extraEgress': [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ port: 8443, protocol: 'TCP' }] }],
        'networkPolicy.extraIngress': [{ from: [{ podSelector: {} }], ports: [{ port: 8080, protocol: 'TCP' }] }],
        extraVolumes: [{ name: 'issuers', secret: { secretName: 'probe-issuers' } }],
        extraVolumeMounts: [{ name: 'issuers', mountPath: '/etc/issuers', readOnly: true }],
      },
    }));
    // (the NetworkPolicy is accepted; the test apiserver's node does not enforce policies)
    expect(ofKind(objs, 'NetworkPolicy')).toHaveLength(1);
    expect(ofKind(objs, 'CustomResourceDefinition')).toHaveLength(2);
    expect(deploymentOf(objs).container.args).toEqual(
      expect.arrayContaining(['--pools=false', '--probe-endpoints-file=/etc/ocsp-operator/probe/endpoints.yaml']),
    );
  });

  it('one replica without leader election', async () => {
    const objs = await serverDryRun('one', () => ({ set: { replicaCount: 1, 'leaderElection.enabled': false } }));
    expect(ofKind(objs, 'PodDisruptionBudget')).toEqual([]);
    expect(deploymentOf(objs).container.args).not.toContain('--leader-elect');
  });

  it('helm install --dry-run=server prints NOTES that say what to run next', async () => {
    const ns = await createNamespace(client, 'notes');
    namespaces.push(ns);
    const r = await helm(['install', 'notes', CHART_DIR, '--namespace', ns.name, '--dry-run=server', '--kubeconfig', kubeconfigPath()]);
    expect(r.code, r.stderr).toBe(0);
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
    expect(notes).toContain('kubectl get ocspstaples -A -o wide');
    expect(notes).toContain(`kubectl -n ${ns.name} get lease notes-ocsp-operator`);
    expect(notes).toContain('kind: OcspStaple');
  });

  it('crds.enabled where the CRDs came from crds/ (as here): Helm adopts them only with --take-ownership (helm install --dry-run=server)', async () => {
    const ns = await createNamespace(client, 'crds');
    namespaces.push(ns);
    const install = (...extra: string[]) =>
      helm([
        'install',
        'crds',
        CHART_DIR,
        '--namespace',
        ns.name,
        '--dry-run=server',
        '--kubeconfig',
        kubeconfigPath(),
        '--set',
        'crds.enabled=true',
        '--skip-crds',
        ...extra,
      ]);
    const refused = await install();
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/CustomResourceDefinition "ocsp\S+ocsp-operator.dev" .*exists and cannot be imported/);
    const adopted = await install('--take-ownership');
    expect(adopted.code, adopted.stderr).toBe(0);
    expect(adopted.stdout).toContain('helm.sh/resource-policy: keep');
  });
});
