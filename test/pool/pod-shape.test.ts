// Every field of a pool's pod shapes reaches the pods the operator renders, in the place its
// description names, and into the right component's pods: a Redis pool (signers and responders in
// pods of their own) and an embedded pool (one pod for both) with every field set. The operator's
// own names in those pods are the ones the API refuses to users.
import { describe, expect, it } from 'vitest';
import { OPERATOR_POD_NAMES, POD_LEVEL_FIELDS, PodShapeSchema, type PodShape } from '../../src/api/index.js';
import { fullPodShape, type Component } from '../support/pod-shape.js';
import { renderPool, type RenderedContainer, type RenderedPodTemplate, type RenderedTemplate } from '../support/pool-render.js';

type Shape = Record<string, unknown> & Partial<Record<keyof PodShape, unknown>>;
type Check = (pod: RenderedPodTemplate, container: RenderedContainer, shape: Shape, where: string) => void;

const RESTRICTED = { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const podField =
  (f: keyof PodShape): Check =>
  (pod, _c, shape, where) =>
    expect(pod.spec[f], `${where}: spec.${f}`).toEqual(shape[f]);

/** Where each field of a pod shape must show up; one entry per field of the schema. */
const checks: Record<keyof PodShape, Check> = {
  labels: (pod, _c, shape, where) => expect(pod.metadata.labels, `${where}: metadata.labels`).toMatchObject(shape.labels as object),
  annotations: (pod, _c, shape, where) => expect(pod.metadata.annotations, `${where}: metadata.annotations`).toEqual(shape.annotations),
  resources: (_p, c, shape, where) => expect(c.resources, `${where}: container ${c.name} resources`).toEqual(shape.resources),
  nodeSelector: podField('nodeSelector'),
  tolerations: podField('tolerations'),
  affinity: podField('affinity'),
  topologySpreadConstraints: podField('topologySpreadConstraints'),
  imagePullSecrets: podField('imagePullSecrets'),
  priorityClassName: podField('priorityClassName'),
  volumes: (pod, _c, shape, where) =>
    expect(pod.spec.volumes, `${where}: spec.volumes`).toEqual(expect.arrayContaining(list(shape.volumes))),
  // After the operator's own, in the order given.
  volumeMounts: (_p, c, shape, where) =>
    expect(c.volumeMounts?.slice(-list(shape.volumeMounts).length), `${where}: container ${c.name} volumeMounts`).toEqual(
      shape.volumeMounts,
    ),
  env: (_p, c, shape, where) => expect(c.env?.slice(-list(shape.env).length), `${where}: container ${c.name} env`).toEqual(shape.env),
  // With the operator's restricted container settings under whatever the user's container sets.
  initContainers: (pod, _c, shape, where) => {
    for (const ic of list(shape.initContainers) as RenderedContainer[]) {
      expect(pod.spec.initContainers, `${where}: initContainers ${ic.name}`).toContainEqual({
        ...ic,
        securityContext: { ...RESTRICTED, ...ic.securityContext },
      });
    }
  },
};

function containerOf(t: RenderedTemplate, component: Component): RenderedContainer {
  const c = t.template.spec.containers.find((x) => x.name === component);
  if (!c) throw new Error(`${t.workload} has no ${component} container`);
  return c;
}

function expectShaped(
  t: RenderedTemplate,
  component: Component,
  shape: Shape,
  fields: Array<keyof PodShape> = Object.keys(shape) as Array<keyof PodShape>,
): void {
  for (const f of fields) checks[f](t.template, containerOf(t, component), shape, `${t.workload} (${component} pod shape, ${f})`);
}

const base = {
  issuer: { secretName: 'ca' },
  delegatedResponder: { mode: 'None' },
  sources: [{ opensslIndex: { configMapName: 'ca-db' } }],
};
const pkcs11 = { pkcs11: { tokenLabel: 'ocsp', keyLabel: 'ocsp-signer', pinSecretRef: { name: 'hsm-pin' } } };
const redis = {
  type: 'Redis',
  redis: {
    primaryURL: 'redis://redis:6379',
    replicaURLs: ['redis://replica-0:6379', 'redis://replica-1:6379'],
    passwordSecretRef: { name: 'redis-auth' },
  },
};

/** An embedded pool's signer: its container fields, a token volume and an init container of its own. */
const embeddedSigner: Shape = {
  resources: { requests: { cpu: 1, memory: '96Mi' } },
  env: [{ name: 'SOFTHSM2_CONF', value: '/etc/softhsm/softhsm2.conf' }],
  volumes: [{ name: 'signer-tokens', persistentVolumeClaim: { claimName: 'softhsm-tokens' } }],
  volumeMounts: [{ name: 'signer-tokens', mountPath: '/var/lib/softhsm/tokens' }],
  initContainers: [
    {
      name: 'token-check',
      image: 'ocsp-operator-signer:test',
      args: ['softhsm2-util', '--show-slots'],
      securityContext: { runAsUser: 1000 },
    },
  ],
};

describe('pod shapes reach the rendered pods', () => {
  it('the test shape sets every field of the schema, and each field has a check', () => {
    const fields = Object.keys(PodShapeSchema.shape).sort();
    expect(Object.keys(fullPodShape('signer')).sort()).toEqual(fields);
    expect(Object.keys(checks).sort()).toEqual(fields);
    expect(PodShapeSchema.safeParse(fullPodShape('signer')).success).toBe(true);
  });

  it('Redis pool: the signer StatefulSet gets signers.pod, every responder Deployment gets responder.pod', () => {
    const signer = fullPodShape('signer');
    const responder = fullPodShape('responder');
    const { templates } = renderPool({ ...base, signing: pkcs11, store: redis, signers: { pod: signer }, responder: { pod: responder } });
    expect(templates.map((t) => t.workload)).toEqual([
      'StatefulSet pki/ca-signer',
      'Deployment pki/ca-responder-0',
      'Deployment pki/ca-responder-1',
    ]);
    const [signers, ...responders] = templates;
    expectShaped(signers!, 'signer', signer);
    for (const r of responders) expectShaped(r, 'responder', responder);
    // The operator's own come first and stay: the signer's PIN and the Redis password, its mounts.
    expect(
      containerOf(signers!, 'signer')
        .env?.map((e) => e.name)
        .slice(0, 5),
    ).toEqual(['POD_NAME', 'POD_NAMESPACE', 'OCSP_SIGNER_PIN', 'UV_THREADPOOL_SIZE', 'REDIS_PASSWORD']);
    expect(containerOf(responders[0]!, 'responder').volumeMounts?.[0]).toMatchObject({ name: 'issuer', mountPath: '/etc/ocsp/issuer' });
    expect(responders[0]!.template.metadata.labels).toMatchObject({
      'ocsp-operator.dev/pool': 'ca',
      'app.kubernetes.io/component': 'responder',
      'ocsp-operator.dev/replica': '0',
    });
  });

  it('embedded pool: one pod with responder.pod’s pod-level fields, each container its own shape, both shapes’ volumes and init containers', () => {
    const responder = fullPodShape('responder');
    const { templates } = renderPool({ ...base, signing: pkcs11, signers: { pod: embeddedSigner }, responder: { pod: responder } });
    expect(templates.map((t) => t.workload)).toEqual(['StatefulSet pki/ca']);
    const pod = templates[0]!;
    expectShaped(pod, 'responder', responder);
    expectShaped(pod, 'signer', embeddedSigner);
    // A user's securityContext field replaces the operator's default of that field, and only it.
    expect(pod.template.spec.initContainers?.find((c) => c.name === 'token-check')?.securityContext).toEqual({
      ...RESTRICTED,
      runAsUser: 1000,
    });
    // Each container's fields are its own shape's, not the other's.
    expect(containerOf(pod, 'signer').resources).toEqual(embeddedSigner.resources);
    expect(containerOf(pod, 'signer').env?.map((e) => e.name)).not.toContain('HSM_CLIENT_CONF');
    expect(containerOf(pod, 'responder').env?.map((e) => e.name)).not.toContain('SOFTHSM2_CONF');
  });

  it('without pod shapes the pods carry only what the operator renders', () => {
    for (const store of [{}, { store: redis }]) {
      const { templates } = renderPool({ ...base, signing: pkcs11, ...store });
      for (const t of templates) {
        for (const f of POD_LEVEL_FIELDS)
          if (f !== 'labels')
            expect(t.template.spec[f] ?? (t.template.metadata as Record<string, unknown>)[f], `${t.workload}: ${f}`).toBeUndefined();
        expect(t.template.spec.initContainers, `${t.workload}: initContainers`).toBeUndefined();
        for (const c of t.template.spec.containers) expect(c.resources, `${t.workload}: container ${c.name} resources`).toBeUndefined();
      }
    }
  });
});

describe('the operator’s own names in its pods', () => {
  const shapes: Array<[string, Record<string, unknown>]> = [
    [
      'embedded, software key, delegated responder from a Secret',
      { ...base, signing: { softwareKey: { secretName: 'ca' } }, delegatedResponder: { mode: 'FromSecret', secretName: 'responder' } },
    ],
    ['embedded, PKCS#11, delegated responder issued', { ...base, signing: pkcs11, delegatedResponder: { mode: 'Issue' } }],
    ['Redis with a password, PKCS#11', { ...base, signing: pkcs11, store: redis }],
  ];

  it.each(shapes)('%s: every volume, mount path, env var, pod label and container name is one the API refuses to users', (_name, spec) => {
    const reserved = (list: keyof typeof OPERATOR_POD_NAMES) => new Set<string>(OPERATOR_POD_NAMES[list]);
    for (const { workload, template } of renderPool(spec).templates) {
      for (const v of template.spec.volumes ?? []) expect(reserved('volumes'), `${workload}: volume ${v.name}`).toContain(v.name);
      for (const k of Object.keys(template.metadata.labels ?? {})) expect(reserved('labels'), `${workload}: label ${k}`).toContain(k);
      for (const c of template.spec.containers) {
        expect(reserved('containers'), `${workload}: container ${c.name}`).toContain(c.name);
        for (const m of c.volumeMounts ?? [])
          expect(reserved('mountPaths'), `${workload}: ${c.name} mounts ${m.mountPath}`).toContain(m.mountPath);
        for (const e of c.env ?? []) expect(reserved('env'), `${workload}: ${c.name} env ${e.name}`).toContain(e.name);
      }
    }
  });
});
