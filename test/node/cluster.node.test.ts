// The real node itself, before anything of the product runs on it: the kubelet registered and
// Ready at the pinned version; a Deployment of an image built here goes Deployment → ReplicaSet →
// scheduled → Running and Ready through the real controllers, scheduler and kubelet, under
// PodSecurity `restricted` with an exec readiness probe; a pod reaches the apiserver through the
// `kubernetes` Service with its ServiceAccount token (TLS, kube-proxy and cluster DNS at once) and
// another Service by its cluster DNS name; the ReplicaSet replaces a deleted pod.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl } from '../support/kube.js';
import {
  apply,
  kubectlOk,
  nodeImage,
  nodeUnavailable,
  pods,
  restrictedDeployment,
  restrictedNamespace,
  retryingLookups,
  waitForReadyPods,
} from '../support/node.js';

const unavailable = nodeUnavailable();
if (unavailable) process.stderr.write(`[node] skipped: ${unavailable}\n`);

const NODE = 'ocsp-node';
const APP = 'smoke';

/** `kubectl exec` into a pod; returns the command's stdout, failing with its stderr. */
async function exec(namespace: string, pod: string, script: string): Promise<string> {
  const r = await retryingLookups(() => kubectl(['-n', namespace, 'exec', pod, '--', 'bash', '-c', script], undefined, 60_000));
  if (r.code !== 0) throw new Error(`kubectl -n ${namespace} exec ${pod} -- bash -c ${script} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

describe.skipIf(unavailable)('the real node', () => {
  let ns: { name: string; remove(): Promise<void> };

  beforeAll(async () => {
    ns = await restrictedNamespace('node-smoke');
  });
  afterAll(async () => {
    await ns?.remove();
  });

  it(`node ${NODE} is Ready and its kubelet reports v1.34.4`, async () => {
    const node = JSON.parse(await kubectlOk(['get', 'node', NODE, '-o', 'json'])) as {
      status: {
        conditions: Array<{ type: string; status: string }>;
        nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string };
        addresses: Array<{ type: string; address: string }>;
      };
    };
    const ready = node.status.conditions.find((c) => c.type === 'Ready');
    expect(ready?.status, `node ${NODE} condition Ready`).toBe('True');
    expect(node.status.nodeInfo.kubeletVersion, `node ${NODE} kubeletVersion`).toBe('v1.34.4');
    expect(node.status.nodeInfo.containerRuntimeVersion, `node ${NODE} container runtime`).toMatch(/^containerd:\/\/1\.6\./);
    expect(node.status.addresses, `node ${NODE} addresses`).toContainEqual({ type: 'InternalIP', address: '10.244.0.1' });
  });

  it(`Deployment ${APP} (2 replicas of localhost/toolbox:test, restricted, exec readiness probe) becomes Available`, async () => {
    const image = nodeImage('toolbox');
    // A TLS server (openssl s_server, key made at start in an emptyDir: the root is read-only),
    // ready when it answers; behind a Service so other pods can find it by name.
    const serve =
      'openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=smoke -days 1 -keyout /work/key -out /work/crt 2>/dev/null && exec openssl s_server -quiet -accept 8443 -www -cert /work/crt -key /work/key';
    await apply([
      restrictedDeployment(ns.name, APP, {
        replicas: 2,
        // openssl as the pid 1 of its container ignores SIGTERM: do not wait 30 s for it
        terminationGracePeriodSeconds: 3,
        containers: [
          {
            name: 'toolbox',
            image,
            imagePullPolicy: 'Never',
            command: ['bash', '-c', serve],
            ports: [{ name: 'https', containerPort: 8443 }],
            readinessProbe: {
              exec: { command: ['curl', '-ksf', '-o', '/dev/null', 'https://127.0.0.1:8443/'] },
              periodSeconds: 2,
              timeoutSeconds: 5,
            },
            volumeMounts: [{ name: 'work', mountPath: '/work' }],
          },
        ],
        volumes: [{ name: 'work', emptyDir: {} }],
      }),
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: APP, namespace: ns.name },
        spec: { selector: { app: APP }, ports: [{ name: 'https', port: 443, targetPort: 'https' }] },
      },
    ]);
    const ready = await waitForReadyPods(ns.name, `app=${APP}`, 2, 180_000);
    expect(
      ready.map((p) => p.image),
      `pods of Deployment ${ns.name}/${APP}`,
    ).toEqual([image, image]);
    const dep = JSON.parse(await kubectlOk(['-n', ns.name, 'get', 'deployment', APP, '-o', 'json'])) as {
      status: { availableReplicas?: number; conditions?: Array<{ type: string; status: string }> };
    };
    expect(dep.status.availableReplicas, `Deployment ${ns.name}/${APP} availableReplicas`).toBe(2);
    expect(dep.status.conditions?.find((c) => c.type === 'Available')?.status, `Deployment ${ns.name}/${APP} Available`).toBe('True');
    // What the runtime really applied: uid 65532 and a read-only root.
    const pod = ready[0]?.name ?? '';
    expect(await exec(ns.name, pod, 'id -u; touch /x 2>&1 || true'), `pod ${ns.name}/${pod} uid and root filesystem`).toMatch(
      /^65532\n.*Read-only file system/s,
    );
  });

  it('a pod reaches the apiserver at https://kubernetes.default.svc with its token, and Service smoke by its DNS name', async () => {
    const [pod] = await pods(ns.name, `app=${APP}`);
    expect(pod, `a pod of Deployment ${ns.name}/${APP}`).toBeDefined();
    const name = pod?.name ?? '';
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
    // The default ServiceAccount may not list pods: a 403 Status naming it proves TLS (the
    // serving certificate holds kubernetes.default.svc), the route to 10.96.0.1, DNS, and the token.
    const answer = await exec(
      ns.name,
      name,
      `curl -sS --cacert ${sa}/ca.crt -H "Authorization: Bearer $(cat ${sa}/token)" https://kubernetes.default.svc/api/v1/namespaces/kube-system/pods`,
    );
    const status = JSON.parse(answer) as { kind: string; code: number; message: string };
    expect(status.kind, `apiserver answer to pod ${ns.name}/${name}`).toBe('Status');
    expect(status.code, `apiserver answer to pod ${ns.name}/${name}`).toBe(403);
    expect(status.message, `apiserver answer to pod ${ns.name}/${name}`).toContain(`system:serviceaccount:${ns.name}:default`);
    // Its own namespace's ServiceAccount object is readable by nobody either, but /version is public.
    const version = JSON.parse(await exec(ns.name, name, `curl -sS --cacert ${sa}/ca.crt https://kubernetes.default.svc/version`)) as {
      gitVersion: string;
    };
    expect(version.gitVersion, `apiserver /version seen from pod ${ns.name}/${name}`).toBe('v1.34.4');

    const clusterIp = (await kubectlOk(['-n', ns.name, 'get', 'service', APP, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const fqdn = `${APP}.${ns.name}.svc.cluster.local`;
    const resolved = (
      await exec(
        ns.name,
        name,
        `set -o pipefail; (getent hosts ${fqdn} || { echo "Could not resolve host: ${fqdn}" >&2; exit 2; }) | cut -d' ' -f1`,
      )
    ).trim();
    expect(resolved, `Service ${ns.name}/${APP} resolved as ${fqdn} in pod ${ns.name}/${name}`).toBe(clusterIp);
    // and through it (kube-proxy's DNAT back onto the bridge) a pod's TLS server answers
    const page = await exec(ns.name, name, `curl -ksS --max-time 10 https://${APP}/`);
    expect(page, `https://${APP}/ (Service ${ns.name}/${APP}) from pod ${ns.name}/${name}`).toContain('s_server');
  });

  it(`the ReplicaSet of Deployment ${APP} replaces a deleted pod`, async () => {
    const before = await pods(ns.name, `app=${APP}`);
    const victim = before[0]?.name ?? '';
    expect(victim, `a pod of Deployment ${ns.name}/${APP}`).not.toBe('');
    await kubectlOk(['-n', ns.name, 'delete', 'pod', victim, '--wait=true', '--timeout=120s'], 150_000);
    const after = await waitForReadyPods(ns.name, `app=${APP}`, 2, 180_000);
    const names = after.map((p) => p.name);
    expect(names, `pods of Deployment ${ns.name}/${APP} after deleting ${victim}`).not.toContain(victim);
    expect(
      names.filter((n) => !before.some((b) => b.name === n)),
      `replacement pods of ${ns.name}/${APP}`,
    ).toHaveLength(1);
    const events = await kubectl(['-n', ns.name, 'get', 'events', '--field-selector', 'reason=SuccessfulCreate', '-o', 'name']);
    expect(events.stdout.trim().split('\n').length, `SuccessfulCreate Events in ${ns.name}`).toBeGreaterThanOrEqual(3);
  });
});
