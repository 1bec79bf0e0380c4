// An in-process staple controller against the real apiserver, with an injectable clock, plus the
// checks every staple test needs (does the staple in a Secret belong to the certificate beside it).
import { X509Certificate } from '@peculiar/x509';
import { pino, type Logger } from 'pino';
import { validateOcspResponse, parsePemChain, findIssuer, serialHex, type Verdict } from '../../src/ocsp/index.js';
import { KubeClient } from '../../src/kube/client.js';
import { OcspStapleType, SecretType, type KubeObject, type Secret } from '../../src/kube/types.js';
import type { Clock } from '../../src/base/clock.js';
import { systemClock } from '../../src/base/clock.js';
import { Manager } from '../../src/runtime/manager.js';
import { addAutoStapleController } from '../../src/staple/auto-staple.js';
import { addStapleController } from '../../src/staple/controller.js';
import { STAPLE_KEY } from '../../src/staple/staple-secret.js';
import { kubeClient, waitFor } from './kube.js';

export interface StapleObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: {
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason: string; message: string; observedGeneration?: number }>;
    certificate?: { serial?: string; sha256?: string };
    staple?: { certStatus?: string; thisUpdate?: string; nextUpdate?: string; usableUntil?: string; revocationReason?: string };
    nextRefreshTime?: string;
    consecutiveFailures?: number;
    lastFailure?: { reason?: string; message?: string; time?: string };
  };
}

export interface Harness {
  client: KubeClient;
  manager: Manager;
  logs: Array<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** Runs a manager with the staple controller in this process, watching one namespace. */
export async function startStapleController(namespace: string, opts: { clock?: Clock; workers?: number } = {}): Promise<Harness> {
  const client = kubeClient();
  const logs: Array<Record<string, unknown>> = [];
  const log: Logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const manager = new Manager({
    client,
    clock: opts.clock ?? systemClock,
    log,
    healthAddress: { host: '127.0.0.1', port: 0 },
    namespaces: [namespace],
    resyncMs: 60_000,
  });
  addStapleController(manager, { workers: opts.workers ?? 4 });
  addAutoStapleController(manager, { workers: 1 });
  await manager.start();
  return { client, manager, logs, stop: () => manager.stop() };
}

export function condition(s: StapleObject | undefined, type: string) {
  return s?.status?.conditions?.find((c) => c.type === type);
}

export async function getStaple(client: KubeClient, namespace: string, name: string): Promise<StapleObject> {
  return client.get<StapleObject>(OcspStapleType, namespace, name);
}

export async function createStaple(
  client: KubeClient,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
): Promise<StapleObject> {
  return client.create<StapleObject>(OcspStapleType, {
    apiVersion: 'ocsp-operator.dev/v1alpha1',
    kind: 'OcspStaple',
    metadata: { name, namespace },
    spec,
  });
}

/** Waits until the staple's Ready condition has this reason (and returns the object). */
export function waitForReason(
  client: KubeClient,
  namespace: string,
  name: string,
  reason: string,
  timeoutMs = 20_000,
  type = 'Ready',
): Promise<StapleObject> {
  return waitFor(
    `${namespace}/${name} ${type} reason ${reason}`,
    async () => {
      const s = await getStaple(client, namespace, name);
      return condition(s, type)?.reason === reason ? s : undefined;
    },
    timeoutMs,
  );
}

export interface Lockstep {
  certSerial: string;
  stapleSerial?: string;
  verdict?: Verdict;
}

/**
 * What a staple Secret version publishes: the serial of its certificate and, if it carries a
 * staple, whether that staple validates for exactly that certificate (at `now`).
 */
export function lockstepOf(secret: Secret, now = new Date()): Lockstep {
  const d = secret.data ?? {};
  const chain = parsePemChain(Buffer.from(d['tls.crt'] ?? '', 'base64').toString('utf8'));
  const leaf = chain[0] as X509Certificate;
  const extra = d['ca.crt'] ? parsePemChain(Buffer.from(d['ca.crt'], 'base64').toString('utf8')) : [];
  const issuer = findIssuer(leaf, [...chain.slice(1), ...extra]);
  const staple = d[STAPLE_KEY];
  if (!staple || !issuer) return { certSerial: serialHex(leaf) };
  const verdict = validateOcspResponse(new Uint8Array(Buffer.from(staple, 'base64')), {
    cert: leaf,
    issuer,
    now,
    clockSkewMs: 5 * 60_000,
    signerMinRemainingMs: 0,
  });
  return { certSerial: serialHex(leaf), stapleSerial: verdict.ok ? serialHex(leaf) : undefined, verdict };
}

export async function getSecret(client: KubeClient, namespace: string, name: string): Promise<Secret | undefined> {
  return client.getOrUndefined<Secret>(SecretType, namespace, name);
}

/** Every version of one staple Secret that a watch delivers, for lockstep checks over a whole run. */
export interface StapleSecretWatch {
  versions: Secret[];
  /** Versions that pair a certificate with a staple that does not validate for it. */
  mismatched(): string[];
  stop(): void;
}

export async function watchStapleSecret(client: KubeClient, namespace: string, name: string): Promise<StapleSecretWatch> {
  const first = await client.get<Secret>(SecretType, namespace, name);
  const versions: Secret[] = [first];
  const abort = await client.watch(
    SecretType,
    { namespace, resourceVersion: first.metadata?.resourceVersion ?? '0', timeoutSeconds: 1800 },
    (phase, obj) => {
      const s = obj as Secret;
      if ((phase === 'ADDED' || phase === 'MODIFIED') && s.metadata?.name === name) versions.push(s);
    },
    () => {},
  );
  return {
    versions,
    mismatched: () =>
      versions
        .map((v) => lockstepOf(v))
        .filter((ls) => ls.verdict && !ls.verdict.ok)
        .map((ls) => `${ls.certSerial}: ${ls.verdict && !ls.verdict.ok ? ls.verdict.message : ''}`),
    stop: () => abort.abort(),
  };
}
