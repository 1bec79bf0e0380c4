// The install scripts that cannot run here (test/kind/e2e.sh needs Docker) or that run once per
// machine are still checked: shellcheck (a Debian package hack/install-system-deps.sh installs)
// finds nothing in them, and kind-config.yaml is a cluster the script and the README agree on.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../src/devenv/control-plane.js';

const run = promisify(execFile);
const root = repoRoot();

describe('install scripts', () => {
  it.each(['test/kind/e2e.sh', 'hack/install-helm.sh', 'hack/setup.sh', 'hack/build-images.sh', 'hack/check-images.sh'])(
    'shellcheck finds nothing in %s',
    async (script) => {
      const r = await run('shellcheck', ['--external-sources', script], { cwd: root }).then(
        () => ({ code: 0, out: '' }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({ code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
      );
      expect(r.out).toBe('');
      expect(r.code).toBe(0);
    },
  );

  it('kind-config.yaml: the cluster e2e.sh names, at the Kubernetes minor the tests build, with workers for two replicas', async () => {
    const cfg = parse(await readFile(join(root, 'kind-config.yaml'), 'utf8')) as {
      kind: string;
      apiVersion: string;
      name: string;
      nodes: Array<{ role: string; image?: string }>;
    };
    expect(cfg).toMatchObject({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4', name: 'ocsp-operator' });
    const e2e = await readFile(join(root, 'test/kind/e2e.sh'), 'utf8');
    expect(e2e).toContain(`cluster=\${CLUSTER:-${cfg.name}}`);
    const goMod = await readFile(join(root, 'hack/control-plane/go.mod'), 'utf8');
    const minor = /k8s\.io\/kubernetes v1\.(\d+)\./.exec(goMod)?.[1];
    expect(minor).toBeTruthy();
    for (const n of cfg.nodes) expect(n.image).toMatch(new RegExp(`^kindest/node:v1\\.${minor}\\.\\d+`));
    expect(cfg.nodes.filter((n) => n.role === 'worker').length).toBeGreaterThanOrEqual(2);
  });
});
