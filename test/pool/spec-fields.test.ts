// A spec that means what it says: a pool with every field that concerns its pods set to a value
// other than its default, rendered as the operator renders it; each value must reach the pods
// (arguments, environment, volumes, workload fields). Fields the operator itself acts on
// (thresholds, scaling bounds, sources, revocations) are proven where it acts: thresholds.test.ts,
// scaling.test.ts and the pool tests against the apiserver.
import { describe, expect, it } from 'vitest';
import { renderPool, type RenderedContainer, type RenderedTemplate } from '../support/pool-render.js';

const redisSpec = {
  issuer: { secretName: 'ca' },
  signing: {
    pkcs11: {
      module: '/opt/hsm/lib/libvendor.so',
      tokenLabel: 'tok',
      keyLabel: 'key',
      pinSecretRef: { name: 'hsm-pin', key: 'the-pin' },
      sessions: 7,
    },
  },
  delegatedResponder: { mode: 'Issue', validity: '500h', renewBefore: '100h' },
  responseValidity: '100h',
  refreshAge: '40h',
  sources: [{ opensslIndex: { configMapName: 'db' } }],
  store: {
    type: 'Redis',
    redis: {
      primaryURL: 'redis://primary:6379/2',
      replicaURLs: ['redis://r0:6379/2', 'redis://r1:6379/2'],
      passwordSecretRef: { name: 'redis-auth', key: 'pw' },
    },
  },
  responder: { replicas: 5, port: 8181, maxReplicationLag: '7s', lagPolicy: 'Unauthorized', cacheMaxAge: '90m' },
  thresholds: { freshnessWarningAge: '50h', freshnessCriticalAge: '60h', signerExpiryWarning: '50h' },
};

const container = (t: RenderedTemplate | undefined, name: string): RenderedContainer => {
  const c = t?.template.spec.containers.find((x) => x.name === name);
  if (!c) throw new Error(`${t?.workload ?? 'no workload'} has no container ${name}`);
  return c;
};
/** The value after `flag` in the container's arguments. */
const arg = (c: RenderedContainer, flag: string): string | undefined => {
  const args = c.args as string[];
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
};

describe('every pool field reaches the pods it concerns', () => {
  it('Redis store: signing, validity, delegated responder, Redis URLs and password, responder settings', () => {
    const { workloads, templates } = renderPool(redisSpec);
    const signerT = templates.find((t) => t.workload === 'StatefulSet pki/ca-signer');
    const signer = container(signerT, 'signer');
    expect(arg(signer, '--validity')).toBe('100h');
    expect(arg(signer, '--refresh-age')).toBe('40h');
    expect(arg(signer, '--pkcs11-module')).toBe('/opt/hsm/lib/libvendor.so');
    expect(arg(signer, '--token-label')).toBe('tok');
    expect(arg(signer, '--key-label')).toBe('key');
    expect(arg(signer, '--sessions')).toBe('7');
    // The threadpool for 7 sessions (and 2 for file I/O), so the signer never re-executes in a pod.
    expect(signer.env).toContainEqual({ name: 'UV_THREADPOOL_SIZE', value: '9' });
    expect(signer.env).toContainEqual({ name: 'OCSP_SIGNER_PIN', valueFrom: { secretKeyRef: { name: 'hsm-pin', key: 'the-pin' } } });
    expect(signer.args).toContain('--issue-responder');
    expect(arg(signer, '--responder-validity')).toBe('500h');
    expect(arg(signer, '--responder-renew-before')).toBe('100h');
    expect(arg(signer, '--redis-url')).toBe('redis://primary:6379/2');
    // The password: from the Secret into the environment, named to the process, never an argument.
    const passwordEnv = { name: 'REDIS_PASSWORD', valueFrom: { secretKeyRef: { name: 'redis-auth', key: 'pw' } } };
    expect(signer.env).toContainEqual(passwordEnv);
    expect(arg(signer, '--redis-password-env')).toBe('REDIS_PASSWORD');

    const responders = templates.filter((t) => t.workload.startsWith('Deployment pki/ca-responder-'));
    expect(responders.map((t) => t.workload)).toEqual(['Deployment pki/ca-responder-0', 'Deployment pki/ca-responder-1']);
    responders.forEach((t, i) => {
      const r = container(t, 'responder');
      expect(arg(r, '--redis-url'), t.workload).toBe(`redis://r${i}:6379/2`);
      expect(arg(r, '--redis-primary-url'), t.workload).toBe('redis://primary:6379/2');
      expect(r.env, t.workload).toContainEqual(passwordEnv);
      expect(arg(r, '--redis-password-env'), t.workload).toBe('REDIS_PASSWORD');
      expect(arg(r, '--listen'), t.workload).toBe('0.0.0.0:8181');
      expect(r.ports, t.workload).toContainEqual({ name: 'ocsp', containerPort: 8181 });
      expect(arg(r, '--max-lag'), t.workload).toBe('7s');
      expect(arg(r, '--lag-policy'), t.workload).toBe('Unauthorized');
      expect(arg(r, '--cache-max-age'), t.workload).toBe('90m');
    });
    // 5 responders over 2 replicas: at least 5 in all, spread evenly.
    const replicas = workloads
      .filter((w) => w.object.kind === 'Deployment')
      .map((w) => (w.object as { spec: { replicas?: number } }).spec.replicas ?? 0);
    expect(replicas.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(5);
    expect(Math.max(...replicas) - Math.min(...replicas)).toBeLessThanOrEqual(1);
  });

  it('a delegated responder from a Secret: its certificate, for the signing key of the spec', () => {
    const { templates } = renderPool({
      ...redisSpec,
      signing: { softwareKey: { secretName: 'ca' } },
      delegatedResponder: { mode: 'FromSecret', secretName: 'ocsp-signer' },
    });
    const t = templates.find((x) => x.workload === 'StatefulSet pki/ca-signer');
    const signer = container(t, 'signer');
    expect(arg(signer, '--responder-cert')).toMatch(/\/tls\.crt$/);
    // The signing key is the responder's key (an HSM key can be one); the Secret's key is not used.
    expect(arg(signer, '--responder-key')).toBeUndefined();
    expect(t?.template.spec.volumes).toContainEqual({ name: 'responder', secret: { secretName: 'ocsp-signer' } });
    expect(arg(signer, '--key-file')).toMatch(/\/tls\.key$/);
    expect(t?.template.spec.volumes).toContainEqual({ name: 'key', secret: { secretName: 'ca' } });
  });

  const embeddedBase = { ...redisSpec, store: { type: 'Embedded' }, responder: { port: 8181, cacheMaxAge: '90m' } };
  const embedded = (store: Record<string, unknown>) => {
    const { workloads } = renderPool({ ...embeddedBase, store: { type: 'Embedded', embedded: store } });
    const sts = workloads.find((w) => w.object.kind === 'StatefulSet')?.object as {
      spec: {
        replicas: number;
        template: RenderedTemplate['template'];
        volumeClaimTemplates?: Array<{ metadata: { name: string }; spec: Record<string, unknown> }>;
      };
    };
    return { sts, volumes: sts.spec.template.spec.volumes ?? [] };
  };

  it('Embedded store: a claim from the template by default, with its size and class', () => {
    const { sts, volumes } = embedded({ storageSize: '3Gi', storageClassName: 'fast-ssd' });
    expect(sts.spec.replicas).toBe(1);
    expect(sts.spec.volumeClaimTemplates).toEqual([
      expect.objectContaining({
        metadata: expect.objectContaining({ name: 'data' }),
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '3Gi' } }, storageClassName: 'fast-ssd' },
      }),
    ]);
    // The template's claim is the volume: the pod spec declares no `data` volume of its own.
    expect(volumes.map((v) => v.name)).not.toContain('data');
    for (const c of sts.spec.template.spec.containers)
      expect(c.volumeMounts, c.name).toContainEqual({ name: 'data', mountPath: '/var/lib/ocsp' });
    expect(arg(container({ workload: 'sts', template: sts.spec.template, claimVolumes: [] }, 'responder'), '--cache-max-age')).toBe('90m');
  });

  it('Embedded store: a claim the user names, or an emptyDir when ephemeral', () => {
    const named = embedded({ claimName: 'my-responses' });
    expect(named.sts.spec.volumeClaimTemplates).toBeUndefined();
    expect(named.volumes).toContainEqual({ name: 'data', persistentVolumeClaim: { claimName: 'my-responses' } });
    const ephemeral = embedded({ ephemeral: true, storageSize: '200Mi' });
    expect(ephemeral.sts.spec.volumeClaimTemplates).toBeUndefined();
    expect(ephemeral.volumes).toContainEqual({ name: 'data', emptyDir: { sizeLimit: '200Mi' } });
  });

  it('refuses what it could not honour: more than one responder, or two homes for the log, with the Embedded store', () => {
    expect(() => renderPool({ ...embeddedBase, responder: { replicas: 3 } })).toThrow(/responder\.replicas must be 1/);
    expect(() => renderPool({ ...embeddedBase, store: { type: 'Embedded', embedded: { ephemeral: true, claimName: 'x' } } })).toThrow(
      /claimName and ephemeral exclude each other/,
    );
    expect(() => renderPool({ ...embeddedBase, store: { type: 'Embedded', embedded: { claimName: 'x', storageClassName: 'y' } } })).toThrow(
      /storageClassName applies only/,
    );
  });
});
