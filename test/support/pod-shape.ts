// A pod shape (spec.signers.pod / spec.responder.pod) that sets every field, shaped as a PKCS#11
// signer on a network HSM would be: a token volume, the vendor's client library copied by an init
// container, its configuration from a ConfigMap, its credentials from a Secret. The CRD samples,
// the rendering test and the PodSecurity test all use it, so "every field" means the same there.

export type Component = 'signer' | 'responder';

/** The PriorityClass the shape names; a test that creates pods from it must create this first. */
export const SHAPE_PRIORITY_CLASS = 'ocsp-pool-shape-test';

export function fullPodShape(component: Component): Record<string, unknown> {
  return {
    labels: { team: 'pki', tier: component },
    annotations: { 'pki.example.test/owner': `${component}-team`, 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' },
    // An integer quantity as well as strings: Kubernetes takes both.
    resources: { requests: { cpu: '250m', memory: '128Mi' }, limits: { cpu: 2, memory: '512Mi' } },
    nodeSelector: { 'kubernetes.io/os': 'linux', 'pki.example.test/hsm-network': 'true' },
    tolerations: [
      { key: 'pki.example.test/dedicated', operator: 'Equal', value: 'ocsp', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 30 },
    ],
    affinity: {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['zone-a', 'zone-b'] }] }],
        },
      },
      podAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 10,
            podAffinityTerm: { topologyKey: 'topology.kubernetes.io/zone', labelSelector: { matchLabels: { app: 'hsm-proxy' } } },
          },
        ],
      },
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [
          {
            weight: 100,
            podAffinityTerm: {
              topologyKey: 'kubernetes.io/hostname',
              labelSelector: { matchLabels: { 'app.kubernetes.io/component': component } },
            },
          },
        ],
      },
    },
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'topology.kubernetes.io/zone',
        whenUnsatisfiable: 'DoNotSchedule',
        labelSelector: {
          matchLabels: { 'app.kubernetes.io/component': component },
          matchExpressions: [{ key: 'ocsp-operator.dev/pool', operator: 'Exists' }],
        },
        minDomains: 2,
        nodeAffinityPolicy: 'Honor',
        nodeTaintsPolicy: 'Ignore',
        matchLabelKeys: ['pod-template-hash'],
      },
    ],
    imagePullSecrets: [{ name: 'registry-pull' }, { name: 'vendor-pull' }],
    priorityClassName: SHAPE_PRIORITY_CLASS,
    volumes: [
      { name: 'hsm-tokens', persistentVolumeClaim: { claimName: `${component}-tokens` } },
      { name: 'hsm-config', configMap: { name: 'hsm-client' } },
      { name: 'hsm-credentials', secret: { secretName: 'hsm-client-tls', defaultMode: 0o400 } },
      { name: 'hsm-lib', emptyDir: {} },
      { name: 'hsm-csi', csi: { driver: 'secrets-store.csi.k8s.io', readOnly: true, volumeAttributes: { secretProviderClass: 'hsm' } } },
    ],
    volumeMounts: [
      { name: 'hsm-tokens', mountPath: '/var/lib/softhsm/tokens' },
      { name: 'hsm-config', mountPath: '/etc/hsm/client.conf', subPath: 'client.conf', readOnly: true },
      { name: 'hsm-credentials', mountPath: '/etc/hsm/tls', readOnly: true },
      { name: 'hsm-lib', mountPath: '/opt/hsm/lib', readOnly: true },
      { name: 'hsm-csi', mountPath: '/var/run/hsm', subPathExpr: '$(POD_NAME)' },
    ],
    env: [
      { name: 'HSM_CLIENT_CONF', value: '/etc/hsm/client.conf' },
      { name: 'HSM_PASSWORD', valueFrom: { secretKeyRef: { name: 'hsm-client-tls', key: 'password' } } },
      { name: 'HSM_PARTITION', valueFrom: { configMapKeyRef: { name: 'hsm-client', key: 'partition', optional: true } } },
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'MEMORY_LIMIT_MI', valueFrom: { resourceFieldRef: { containerName: component, resource: 'limits.memory', divisor: '1Mi' } } },
    ],
    initContainers: [
      {
        name: 'hsm-client',
        image: 'registry.example.test/vendor/hsm-client:7.4',
        command: ['cp', '-a', '/opt/vendor/lib/.', '/hsm-lib/'],
        volumeMounts: [{ name: 'hsm-lib', mountPath: '/hsm-lib' }],
      },
    ],
  };
}
