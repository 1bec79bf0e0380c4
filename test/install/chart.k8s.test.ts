// The Helm chart as users install it: helm lint, the values schema, what each mode renders, and
// every rendering accepted by the real apiserver (`kubectl apply --dry-run=server`, strict field
// validation). The CRDs in the chart are the CRDs in crds/, byte for byte.
import { readdir, readFile, writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';
import { CrdType, type KubeObject } from '../../src/kube/types.js';
import { createNamespace, kubeClient, kubeconfigPath, kubectl, waitFor } from '../support/kube.js';
import { renderPool } from '../support/pool-render.js';
import { CHART_DIR, deploymentOf, helm, helmBinary, helmTemplate, ofKind, parseManifests, valueArgs, type RenderedObject, type Values } from './helm.js';

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
    ['monitoring on', { set: { 'serviceMonitor.enabled': true, 'poolPodMonitor.enabled': true, 'prometheusRule.enabled': true, 'prometheusRule.signers.enabled': true, 'prometheusRule.responders.enabled': true } }],
    ['no leader election, one replica', { set: { replicaCount: 1, 'leaderElection.enabled': false } }],
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
    ['a pool namespace that is no DNS label', { json: { poolPodMonitor: { enabled: true, namespaces: ['Team_A'] } } }, /poolPodMonitor\/namespaces\/0|poolPodMonitor.namespaces/],
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
    expect(kinds).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
    const { spec, container } = deploymentOf(objs);
    expect(spec.replicas).toBe(2);
    expect(container.args).toEqual(expect.arrayContaining(['controller', '--leader-elect', '--leader-election-namespace=ocsp-system', '--lease-name=op-ocsp-operator', '--health-addr=0.0.0.0:8080']));
    expect(container.args?.some((a) => a.startsWith('--namespaces'))).toBe(false);
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(container.resources?.requests?.cpu).toBeTruthy();
    expect(container.resources?.requests?.memory).toBeTruthy();
    expect(container.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    expect(spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(container.env?.map((e) => e.name)).toEqual(expect.arrayContaining(['POD_NAME', 'POD_NAMESPACE']));
    // the leader-election Role is in the release namespace and names its one Lease
    const [leRole] = ofKind(objs, 'Role');
    expect(leRole?.metadata?.namespace).toBe('ocsp-system');
    expect(leRole?.rules).toContainEqual({ apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['op-ocsp-operator'], verbs: ['get', 'update'] });
    // nothing in the ClusterRole touches leases, nodes, pods or RBAC, and nothing deletes Secrets
    const [cr] = ofKind(objs, 'ClusterRole');
    const resources = cr?.rules?.flatMap((r) => r.resources ?? []) ?? [];
    for (const r of ['leases', 'pods', 'nodes', 'clusterroles', 'clusterrolebindings', 'namespaces', '*']) expect(resources).not.toContain(r);
    expect(cr?.rules?.filter((r) => r.resources?.includes('secrets')).flatMap((r) => r.verbs ?? [])).not.toContain('delete');
    expect(cr?.rules?.flatMap((r) => r.verbs ?? [])).not.toContain('*');
  });

  it('namespaced mode: a Role and RoleBinding per watched namespace, nothing cluster-wide', async () => {
    const objs = parseManifests(await helmTemplate('op', 'ocsp-system', { json: { watchNamespaces: ['team-a', 'team-b'] } }));
    expect(ofKind(objs, 'ClusterRole')).toEqual([]);
    expect(ofKind(objs, 'ClusterRoleBinding')).toEqual([]);
    const roles = ofKind(objs, 'Role').map((r) => `${r.metadata?.namespace}/${r.metadata?.name}`).sort();
    expect(roles).toEqual(['ocsp-system/op-ocsp-operator-leader-election', 'team-a/op-ocsp-operator', 'team-b/op-ocsp-operator']);
    const bindings = ofKind(objs, 'RoleBinding');
    expect(bindings).toHaveLength(3);
    for (const b of bindings) expect(b.subjects).toEqual([{ kind: 'ServiceAccount', name: 'op-ocsp-operator', namespace: 'ocsp-system' }]);
    expect(deploymentOf(objs).container.args).toContain('--namespaces=team-a,team-b');
  });

  it('monitoring: a ServiceMonitor on the metrics Service and a PrometheusRule', async () => {
    const objs = parseManifests(await helmTemplate('op', 'ocsp-system', { set: { 'serviceMonitor.enabled': true, 'prometheusRule.enabled': true } }));
    const [svc] = ofKind(objs, 'Service');
    const [sm] = ofKind(objs, 'ServiceMonitor');
    const [rule] = ofKind(objs, 'PrometheusRule');
    expect(sm?.spec).toMatchObject({ selector: { matchLabels: (svc?.spec as { selector?: Record<string, string> }).selector }, endpoints: [{ port: 'metrics', path: '/metrics' }] });
    const groups = (rule?.spec as { groups: Array<{ name: string; rules: Array<{ alert: string }> }> }).groups;
    expect(groups.map((g) => g.name)).toEqual(['ocsp-operator.staples']);
    expect(groups[0]?.rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['OcspStapleExpiringSoon', 'OcspStapleExpiringCritical', 'OcspStapleRefreshFailing', 'OcspOperatorNoLeader']));
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
    expect((await monitorOf({ set: { 'poolPodMonitor.enabled': true }, json: { watchNamespaces: ['team-a', 'team-b'] } })).namespaceSelector).toEqual({ matchNames: ['team-a', 'team-b'] });
    expect((await monitorOf({ json: { poolPodMonitor: { enabled: true, namespaces: ['pki'] }, watchNamespaces: ['team-a'] } })).namespaceSelector).toEqual({ matchNames: ['pki'] });

    // What the operator renders: every pod of every shape is selected, and each of its containers
    // serves a port named `metrics`, distinct where two share a pod; the OCSP port serves none.
    const selects = (labels: Record<string, string>) =>
      all.selector.matchExpressions.every((e) => (e.operator === 'Exists' ? e.key in labels : e.operator === 'In' ? (e.values ?? []).includes(labels[e.key] ?? '') : false));
    const base = { issuer: { secretName: 'ca' }, signing: { softwareKey: { secretName: 'ca' } }, sources: [{ opensslIndex: { configMapName: 'ca-db' } }] };
    for (const spec of [base, { ...base, store: { type: 'Redis', redis: { primaryURL: 'redis://r:6379', replicaURLs: ['redis://a:6379', 'redis://b:6379'] } } }]) {
      const { templates } = renderPool(spec);
      expect(templates.length).toBeGreaterThan(0);
      for (const { workload, template } of templates) {
        expect(selects(template.metadata.labels ?? {}), workload).toBe(true);
        const ports = template.spec.containers.map((c) => (c.ports as Array<{ name: string; containerPort: number }>).find((p) => p.name === 'metrics')?.containerPort);
        expect(ports.every((p) => p !== undefined), `${workload}: a metrics port in every container`).toBe(true);
        expect(new Set(ports).size, `${workload}: distinct metrics ports`).toBe(ports.length);
        const responder = template.spec.containers.find((c) => c.name === 'responder');
        if (responder) expect(responder.args as string[]).toEqual(expect.arrayContaining(['--metrics-addr', '0.0.0.0:9091']));
      }
    }
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
      endpoints: { type: 'array', items: { type: 'object', properties: { port: str, path: str, interval: str, scrapeTimeout: str, honorLabels: { type: 'boolean' } } } },
    },
  }),
  monitoringCrd('podmonitors', 'PodMonitor', {
    type: 'object',
    properties: {
      selector: {
        type: 'object',
        properties: {
          matchLabels: strMap,
          matchExpressions: { type: 'array', items: { type: 'object', required: ['key', 'operator'], properties: { key: str, operator: str, values: { type: 'array', items: str } } } },
        },
      },
      namespaceSelector: { type: 'object', properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: str } } },
      podMetricsEndpoints: { type: 'array', items: { type: 'object', properties: { port: str, path: str, interval: str, scrapeTimeout: str } } },
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
              items: { type: 'object', required: ['expr'], properties: { alert: str, record: str, expr: { 'x-kubernetes-int-or-string': true }, for: str, labels: strMap, annotations: strMap } },
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
        const c = await client.get<KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }>(CrdType, undefined, crd.metadata?.name ?? '');
        return c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True');
      });
    }
  });
  afterAll(async () => {
    await Promise.all(namespaces.map((n) => n.remove()));
    await rm(dir, { recursive: true, force: true });
  });

  async function serverDryRun(name: string, values: (ns: { release: string; watched: string[] }) => Values, o: { includeCrds?: boolean; watched?: number } = {}): Promise<RenderedObject[]> {
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
    const r = await kubectl(['apply', '--dry-run=server', '--validate=strict', '--server-side', '--field-manager=helm-dry-run', '-f', file]);
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

  it('everything on: ServiceMonitor, the pools’ PodMonitor, PrometheusRule with the signer and responder alerts, digest-pinned image', async () => {
    const objs = await serverDryRun('mon', () => ({
      set: { 'serviceMonitor.enabled': true, 'poolPodMonitor.enabled': true, 'prometheusRule.enabled': true, 'prometheusRule.signers.enabled': true, 'prometheusRule.responders.enabled': true, 'image.digest': `sha256:${'a'.repeat(64)}` },
    }));
    expect(ofKind(objs, 'PrometheusRule')).toHaveLength(1);
    expect(ofKind(objs, 'PodMonitor')).toHaveLength(1);
    expect(deploymentOf(objs).container.image).toBe(`ocsp-operator@sha256:${'a'.repeat(64)}`);
    // The signer image is its own reference: a digest on the operator image never leaks into it.
    expect(deploymentOf(objs).container.args).toContain('--pool-signer-image=ocsp-operator-signer:0.1.0');
  });

  it('the PKCS#11 signer image by its own repository, tag or digest', async () => {
    const digest = `sha256:${'b'.repeat(64)}`;
    const byDigest = await serverDryRun('sgd', () => ({ set: { 'signerImage.repository': 'registry.example/ca/signer', 'signerImage.digest': digest } }));
    expect(deploymentOf(byDigest).container.args).toContain(`--pool-signer-image=registry.example/ca/signer@${digest}`);
    const byTag = await serverDryRun('sgt', () => ({ set: { 'signerImage.tag': '1.2.3' } }));
    expect(deploymentOf(byTag).container.args).toContain('--pool-signer-image=ocsp-operator-signer:1.2.3');
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
});
