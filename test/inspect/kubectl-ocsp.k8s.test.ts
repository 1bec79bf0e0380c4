// `kubectl ocsp get | inspect | refresh | version` against the real apiserver, run as users run it
// (the real kubectl finds bin/kubectl-ocsp on the PATH): many objects by name, label and across
// namespaces in every output format; recent Events in inspect; a refresh served by the staple
// controller from a real `openssl ocsp` (counted at the responder) and one held back by
// minInterval; the operator's version from its Deployment, and "unknown" without the right to
// list Deployments; and, on a second apiserver without the CRDs, the message that says so.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { repoRoot, startControlPlane, type ControlPlane } from '../../src/devenv/control-plane.js';
import type { KubeClient } from '../../src/kube/client.js';
import { DeploymentType, OcspStapleType, ServiceAccountType, type KubeObject } from '../../src/kube/types.js';
import { buildOcspRequest } from '../../src/ocsp/index.js';
import { ANNOTATION_REFRESH_REQUESTED } from '../../src/api/annotations.js';
import { createNamespace, kubeClient, kubeconfigPath, putSecret, serviceAccountKubeconfig, tlsSecret, waitFor } from '../support/kube.js';
import { BIN, exec, field, kubectlOcsp } from '../support/kubectl-ocsp.js';
import { startOpensslResponder, type ResponderHandle } from '../support/openssl.js';
import { createCa, issueLeaf, type Ca } from '../support/pki.js';
import { createStaple, getStaple, startStapleController, waitForReason, type Harness } from '../support/staple-harness.js';

let client: KubeClient;
let a: { name: string; remove(): Promise<void> };
let b: { name: string; remove(): Promise<void> };
let ca: Ca;
const suite = `s${Math.random().toString(36).slice(2, 8)}`;

beforeAll(async () => {
  if (!existsSync(join(repoRoot(), 'dist', 'src', 'kubectl-plugin', 'main.js')))
    throw new Error('dist/ is missing: build first (npx tsc -p tsconfig.json)');
  client = kubeClient();
  a = await createNamespace(client, 'ocsp-a');
  b = await createNamespace(client, 'ocsp-b');
  ca = await createCa();
});

afterAll(async () => {
  await a?.remove();
  await b?.remove();
});

async function labelled(ns: string, name: string, labels: Record<string, string>, status?: Record<string, unknown>): Promise<void> {
  await client.create(OcspStapleType, {
    apiVersion: 'ocsp-operator.dev/v1alpha1',
    kind: 'OcspStaple',
    metadata: { name, namespace: ns, labels },
    spec: { secretName: `${name}-tls` },
  } as KubeObject);
  if (status) await client.mergePatch(OcspStapleType, { namespace: ns, name, subresource: 'status' }, { status });
}

describe('get and inspect over many objects', () => {
  const ready = (reason: string) => ({
    conditions: [
      {
        type: 'Ready',
        status: reason === 'Stapled' ? 'True' : 'False',
        reason,
        message: `${reason} message`,
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      },
    ],
  });

  beforeAll(async () => {
    await labelled(
      a.name,
      'web',
      { suite, tier: 'edge' },
      { ...ready('Stapled'), staple: { certStatus: 'good', usableUntil: new Date(Date.now() + 47 * 3_600_000 + 60_000).toISOString() } },
    );
    await labelled(a.name, 'api', { suite, tier: 'internal' }, ready('TryLater'));
    await labelled(b.name, 'mail', { suite, tier: 'edge' }, ready('StapleExpired'));
  });

  it('get staples: the namespace by default, -A with a NAMESPACE column, -l across namespaces', async () => {
    const ns = await kubectlOcsp(['get', 'staples', '-n', a.name]);
    expect(ns.code, ns.stderr).toBe(0);
    expect(ns.stdout.split('\n')[0]).toMatch(/^NAME +READY +REASON +OCSP +USABLE UNTIL +NEXT REFRESH +AGE$/);
    expect(ns.stdout).toMatch(/^api +False +TryLater +<none> +<none> +<none> +\d+s$/m);
    expect(ns.stdout).toMatch(/^web +True +Stapled +good +in 1d23h +<none> +\d+s$/m);
    expect(ns.stdout).not.toContain('mail');

    const edge = await kubectlOcsp(['get', 'staples', '-A', '-l', `suite=${suite},tier=edge`]);
    expect(edge.code, edge.stderr).toBe(0);
    expect(
      edge.stdout
        .trimEnd()
        .split('\n')
        .map((l) => l.split(/\s+/).slice(0, 3).join(' ')),
    ).toEqual(['NAMESPACE NAME READY', `${a.name} web True`, `${b.name} mail False`]);

    const wide = await kubectlOcsp(['get', 'ocspstaples', '-n', a.name, '-o', 'wide']);
    expect(wide.stdout.split('\n')[0]).toMatch(/ SECRET +SERIAL +FRESH +FAILURES +LAST SUCCESS +REFRESH REQUESTED$/);
    expect(wide.stdout).toMatch(/^web .* web-tls /m);
  });

  it('-o json is a List (one named object: the object), -o yaml the same, -o name kind.group/name', async () => {
    const two = JSON.parse((await kubectlOcsp(['get', 'staples', 'web', 'api', '-n', a.name, '-o', 'json'])).stdout) as {
      kind: string;
      items: KubeObject[];
    };
    expect(two.kind).toBe('List');
    expect(two.items.map((o) => o.metadata?.name)).toEqual(['web', 'api']);
    const one = parseYaml((await kubectlOcsp(['get', 'staple', 'web', '-n', a.name, '-o', 'yaml'])).stdout) as KubeObject;
    expect(one).toMatchObject({ kind: 'OcspStaple', metadata: { name: 'web', namespace: a.name } });
    const names = await kubectlOcsp(['get', 'staples', '-l', `suite=${suite}`, '-A', '-o', 'name']);
    expect(names.stdout.trimEnd().split('\n')).toEqual([
      'ocspstaple.ocsp-operator.dev/api',
      'ocspstaple.ocsp-operator.dev/web',
      'ocspstaple.ocsp-operator.dev/mail',
    ]);
  });

  it('a missing name among others: the others shown, the missing one on stderr, exit 2; nothing selected: said on stderr, exit 0', async () => {
    const r = await kubectlOcsp(['get', 'staples', 'web', 'nope', '-n', a.name]);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/^web /m);
    expect(r.stderr).toContain(`OcspStaple ${a.name}/nope not found`);
    const none = await kubectlOcsp(['get', 'pools', '-n', a.name]);
    expect(none).toMatchObject({ code: 0, stdout: '' });
    expect(none.stderr).toBe(`No ocspresponderpools found in namespace ${a.name}.\n`);
  });

  it("kubectl's own completion of `kubectl ocsp` (bin/kubectl_complete-ocsp): kinds, then the names in the namespace", async () => {
    const complete = (...words: string[]) =>
      exec(join(inject('kubeBinDir'), 'kubectl'), ['__complete', 'ocsp', ...words], {
        PATH: `${BIN}:${process.env.PATH ?? ''}`,
        KUBECONFIG: kubeconfigPath(),
      });
    expect((await complete('get', '')).stdout.split('\n').slice(0, 3)).toEqual(['staples', 'pools', ':4']);
    const names = await complete('inspect', 'staple', '-n', a.name, '');
    expect(names.stdout.split('\n').slice(0, 3), names.stderr).toEqual(['api', 'web', ':4']);
  });

  it('inspect staple -l across namespaces: each object in turn; exit 1 when any has a problem; -o json a List', async () => {
    const r = await kubectlOcsp(['inspect', 'staple', '-A', '-l', `suite=${suite},tier=edge`]);
    expect(r.code, r.stderr).toBe(1);
    expect([...r.stdout.matchAll(/^OcspStaple: +(\S+)$/gm)].map((m) => m[1])).toEqual([`${a.name}/web`, `${b.name}/mail`]);
    const j = JSON.parse((await kubectlOcsp(['inspect', 'staples', '-A', '-l', `suite=${suite},tier=edge`, '-o', 'json'])).stdout) as {
      kind: string;
      items: Array<{ kind: string; ocspStaple: { name: string }; ok: boolean }>;
    };
    expect(j.kind).toBe('List');
    expect(j.items.map((i) => [i.kind, i.ocspStaple.name, i.ok])).toEqual([
      ['OcspStapleInspection', 'web', false], // no staple Secret exists for it
      ['OcspStapleInspection', 'mail', false],
    ]);
  });
});

/** An HTTP pass-through that counts the OCSP requests reaching the responder behind it. */
async function countingProxy(target: string): Promise<{ url: string; count(): number; close(): Promise<void> }> {
  let n = 0;
  const server: Server = createServer((req, res) => {
    n++;
    const up = request(new URL(req.url ?? '/', target), { method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/`, count: () => n, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('refresh: served by the staple controller from a real responder', () => {
  let h: Harness;
  let responder: ResponderHandle;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;

  beforeAll(async () => {
    const leaf = await issueLeaf(ca, { ocspUrl: 'http://127.0.0.1:9/', dnsNames: ['refresh.test'] });
    // 60-minute responses: the planned refresh is far off, so every fetch here is a requested one
    responder = await startOpensslResponder({
      ca,
      indexEntries: [{ cert: leaf.cert, status: 'V' }],
      nmin: 60,
      probeRequest: buildOcspRequest({ cert: leaf.cert, issuer: ca.cert }).der,
    });
    proxy = await countingProxy(responder.url);
    h = await startStapleController(a.name);
    await putSecret(client, tlsSecret(a.name, 'r-tls', { certPem: leaf.chainPem, keyPem: leaf.keyPem, caPem: ca.certPem }));
    await client.create(OcspStapleType, {
      apiVersion: 'ocsp-operator.dev/v1alpha1',
      kind: 'OcspStaple',
      metadata: { name: 'quick', namespace: a.name, labels: { refresh: suite } },
      spec: { secretName: 'r-tls', responderURL: proxy.url, refresh: { minInterval: '1s' } },
    } as KubeObject);
    await createStaple(client, a.name, 'slow', {
      secretName: 'r-tls',
      stapleSecretName: 'r-tls-slow-ocsp',
      responderURL: proxy.url,
      refresh: { minInterval: '1h' },
    });
    await waitForReason(client, a.name, 'quick', 'Stapled');
    await waitForReason(client, a.name, 'slow', 'Stapled');
  });

  afterAll(async () => {
    await h?.stop();
    await proxy?.close();
    await responder?.stop();
  });

  it('refresh NAME --wait: one new request at the responder, a newer staple in status, the annotation removed', async () => {
    const before = await getStaple(client, a.name, 'quick');
    // openssl's thisUpdate has whole seconds: let one pass so the new response is visibly newer
    await waitFor('a new second', () => Date.now() - Date.parse(before.status!.staple!.thisUpdate!) > 1_100, 5_000, 50);
    const count0 = proxy.count();
    const r = await kubectlOcsp(['refresh', 'quick', '-n', a.name, '--wait', '--timeout', '30s']);
    expect(r.stderr).toBe('');
    expect(r.code, r.stdout).toBe(0);
    const after = await getStaple(client, a.name, 'quick');
    expect(r.stdout).toBe(
      `ocspstaple ${a.name}/quick: refreshed: Ready=True (Stapled), staple thisUpdate ${after.status!.staple!.thisUpdate}\n`,
    );
    expect(Date.parse(after.status!.staple!.thisUpdate!)).toBeGreaterThan(Date.parse(before.status!.staple!.thisUpdate!));
    expect(proxy.count()).toBe(count0 + 1);
    expect(after.metadata?.annotations?.[ANNOTATION_REFRESH_REQUESTED]).toBeUndefined();
    expect(
      (after.status as { lastSuccessTime?: string }).lastSuccessTime! > (before.status as { lastSuccessTime?: string }).lastSuccessTime!,
    ).toBe(true);
    // and inspect shows the Events the controller wrote about it
    const i = await kubectlOcsp(['inspect', 'staple', 'quick', '-n', a.name]);
    expect(i.stdout).toMatch(
      /^Events:\n {2}TYPE +REASON +AGE +FROM +MESSAGE\n(.*\n)* {2}Normal +Stapled +\d+s +ocsp-operator\.dev\/controller +Ready=True: staple for certificate /m,
    );
    const j = JSON.parse((await kubectlOcsp(['inspect', 'staple', 'quick', '-n', a.name, '-o', 'json'])).stdout) as {
      events: Array<{ reason: string; type: string }>;
    };
    expect(j.events.map((e) => e.reason)).toContain('Stapled');
  });

  it('refresh -l SELECTOR without --wait: requested at once, then served', async () => {
    const count0 = proxy.count();
    const r = await kubectlOcsp(['refresh', '-l', `refresh=${suite}`, '-n', a.name]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^ocspstaple ${a.name}/quick: refresh requested at \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\n$`),
    );
    const seen = h.logs.length;
    await waitFor(
      'the request served',
      async () => (await getStaple(client, a.name, 'quick')).metadata?.annotations?.[ANNOTATION_REFRESH_REQUESTED] === undefined,
      20_000,
    );
    expect(proxy.count(), `what the controller did: ${JSON.stringify(h.logs.slice(seen).filter((l) => (l.level as number) >= 30))}`).toBe(
      count0 + 1,
    );
  });

  it('within minInterval of the last attempt: no fetch; the request stays, shown by inspect and get -o wide', async () => {
    const count0 = proxy.count();
    const seen = h.logs.length;
    const r = await kubectlOcsp(['refresh', 'slow', '-n', a.name]);
    expect(r.code, r.stderr).toBe(0);
    // the controller looked at the request and put it off (its log says so), and fetched nothing
    await waitFor(
      'the deferral',
      () => h.logs.slice(seen).some((l) => l.msg === 'refresh request waits for spec.refresh.minInterval' && l.object === `${a.name}/slow`),
      20_000,
    );
    expect(proxy.count()).toBe(count0);
    const s = await getStaple(client, a.name, 'slow');
    const requested = s.metadata?.annotations?.[ANNOTATION_REFRESH_REQUESTED];
    expect(requested).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const i = await kubectlOcsp(['inspect', 'staple', 'slow', '-n', a.name]);
    expect(field(i.stdout, 'Refresh requested')).toBe(
      `${requested} (pending: the operator fetches, no sooner than 1h after its last attempt, then removes the request)`,
    );
    const w = await kubectlOcsp(['get', 'staple', 'slow', '-n', a.name, '-o', 'wide']);
    expect(w.stdout).toMatch(new RegExp(`^slow .* ${requested}$`, 'm'));
  });

  it('refresh needs to be told which; a missing one is exit 2', async () => {
    const none = await kubectlOcsp(['refresh', '-n', a.name]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('which ones? give NAME..., -l SELECTOR, --all (this namespace) or -A (every namespace)');
    const missing = await kubectlOcsp(['refresh', 'nope', '-n', a.name]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`OcspStaple ${a.name}/nope not found`);
  });
});

describe('version', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubectl-ocsp-version-'));
    const labels = {
      'app.kubernetes.io/name': 'ocsp-operator',
      'app.kubernetes.io/instance': 'rel',
      'app.kubernetes.io/component': 'controller',
    };
    await client.create(DeploymentType, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: {
        name: 'rel-ocsp-operator',
        namespace: b.name,
        labels: { ...labels, 'app.kubernetes.io/part-of': 'ocsp-operator', 'app.kubernetes.io/version': '9.8.7' },
      },
      spec: {
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: { containers: [{ name: 'operator', image: 'example.test/ocsp-operator:9.8.7' }] } },
      },
    } as KubeObject);
    await client.create(ServiceAccountType, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'viewer', namespace: b.name } });
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the plugin's and the operator's (from its Deployment's labels and image)", async () => {
    const r = await kubectlOcsp(['version']);
    expect(r.code, r.stderr).toBe(0);
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    expect(r.stdout).toContain(`kubectl-ocsp: ${pkg.version} (node ${process.version})`);
    expect(r.stdout).toContain(
      `operator:     9.8.7 (Deployment ${b.name}/rel-ocsp-operator, image example.test/ocsp-operator:9.8.7, 0/0 ready)`,
    );
    const j = JSON.parse((await kubectlOcsp(['version', '-o', 'json'])).stdout) as {
      plugin: { version: string };
      operator: { deployments: Array<{ namespace: string; version: string }> };
    };
    expect(j.plugin.version).toBe(pkg.version);
    expect(j.operator.deployments.filter((d) => d.namespace === b.name)).toEqual([
      expect.objectContaining({ version: '9.8.7', name: 'rel-ocsp-operator' }),
    ]);
  });

  it('without the right to list Deployments: the plugin version and "unknown", exit 0', async () => {
    const kubeconfig = await serviceAccountKubeconfig(client, b.name, 'viewer', dir);
    const r = await exec(join(BIN, 'kubectl-ocsp'), ['version', '--kubeconfig', kubeconfig, '-n', b.name]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^kubectl-ocsp: \S+ \(node v\d+/m);
    expect(r.stdout).toContain(`operator:     unknown (not allowed to list Deployments in ${b.name} or cluster-wide)`);
  });
});

describe('a cluster without the CRDs', () => {
  let plane: ControlPlane | undefined;

  beforeAll(async () => {
    // a second, bare apiserver (this file's own): the shared one must keep its CRDs
    plane = await startControlPlane({ binDir: inject('kubeBinDir') });
  });

  afterAll(async () => {
    await plane?.stop();
  });

  it('get, inspect and refresh say the CRDs are not installed, exit 2; version still works', async () => {
    for (const args of [
      ['get', 'staples'],
      ['inspect', 'staple', 'web'],
      ['get', 'pools', '-A'],
      ['refresh', 'web'],
    ]) {
      const r = await kubectlOcsp(args, plane!.kubeconfigPath);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(
        /^kubectl-ocsp: the cluster of context \S+ \(https:\/\/127\.0\.0\.1:\d+\) does not serve the ocsp-operator\.dev API: the ocsp-operator CRDs are not installed \(install the chart, or kubectl apply --server-side -f crds\/\)\n$/,
      );
    }
    const v = await kubectlOcsp(['version'], plane!.kubeconfigPath);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('operator:     not found');
  });
});
