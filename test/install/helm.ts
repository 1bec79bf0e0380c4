// The chart as a user meets it: the helm binary the project builds (hack/install-helm.sh), the
// chart rendered with `helm template`, and the rendered objects read back as typed YAML.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../../src/devenv/control-plane.js';
import type { KubeObject } from '../../src/kube/types.js';

const run = promisify(execFile);

export const CHART_DIR = join(repoRoot(), 'charts', 'ocsp-operator');

let helmPath: Promise<string> | undefined;

/** The helm binary: built once from hack/helm/go.mod into the cache (about a minute), then cached. */
export function helmBinary(): Promise<string> {
  helmPath ??= run(join(repoRoot(), 'hack', 'install-helm.sh'), [], { timeout: 15 * 60_000, maxBuffer: 4 << 20 }).then(({ stdout }) => {
    const path = stdout.trim().split('\n').pop();
    if (!path) throw new Error('hack/install-helm.sh printed no path');
    return path;
  });
  return helmPath;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export async function helm(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  const bin = await helmBinary();
  try {
    const { stdout, stderr } = await run(bin, args, {
      timeout: timeoutMs,
      maxBuffer: 16 << 20,
      env: {
        ...process.env,
        HELM_CACHE_HOME: '/tmp/ocsp-operator-helm/cache',
        HELM_CONFIG_HOME: '/tmp/ocsp-operator-helm/config',
        HELM_DATA_HOME: '/tmp/ocsp-operator-helm/data',
      },
    });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? String(err), code: typeof e.code === 'number' ? e.code : 1 };
  }
}

/** `--set` pairs and `--set-json` pairs for one rendering. */
export interface Values {
  set?: Record<string, string | number | boolean>;
  json?: Record<string, unknown>;
}

export function valueArgs(v: Values = {}): string[] {
  return [
    ...Object.entries(v.set ?? {}).flatMap(([k, x]) => ['--set', `${k}=${String(x)}`]),
    ...Object.entries(v.json ?? {}).flatMap(([k, x]) => ['--set-json', `${k}=${JSON.stringify(x)}`]),
  ];
}

/** Renders the chart; returns the manifest text (CRDs excluded unless includeCrds). */
export async function helmTemplate(
  release: string,
  namespace: string,
  values: Values = {},
  o: { includeCrds?: boolean } = {},
): Promise<string> {
  const r = await helm([
    'template',
    release,
    CHART_DIR,
    '--namespace',
    namespace,
    ...(o.includeCrds ? ['--include-crds'] : []),
    ...valueArgs(values),
  ]);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return r.stdout;
}

export interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}

export interface RenderedObject extends KubeObject {
  rules?: Rule[];
  spec?: Record<string, unknown>;
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
  roleRef?: { kind: string; name: string };
}

export function parseManifests(text: string): RenderedObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as RenderedObject | null)
    .filter((o): o is RenderedObject => !!o && typeof o === 'object' && !!o.kind);
}

export function ofKind(objs: RenderedObject[], kind: string): RenderedObject[] {
  return objs.filter((o) => o.kind === kind);
}

export interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  livenessProbe?: { httpGet?: { path?: string; port?: string | number } };
  readinessProbe?: { httpGet?: { path?: string; port?: string | number } };
  ports?: Array<{ name?: string; containerPort: number }>;
}

export interface DeploymentSpec {
  replicas?: number;
  template: { spec: { serviceAccountName?: string; securityContext?: Record<string, unknown>; containers: Container[] } };
}

export function deploymentOf(objs: RenderedObject[]): { name: string; spec: DeploymentSpec; container: Container } {
  const [d] = ofKind(objs, 'Deployment');
  if (!d) throw new Error('the chart rendered no Deployment');
  const spec = d.spec as unknown as DeploymentSpec;
  const container = spec.template.spec.containers[0];
  if (!container) throw new Error('the Deployment has no container');
  return { name: d.metadata?.name ?? '', spec, container };
}
