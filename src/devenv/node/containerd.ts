// containerd for the node (Debian's 1.6, its CRI plugin is what the kubelet talks to): its own
// config, root, state and socket under the node's directories, so it never meets a containerd
// the machine may run. The CRI settings are the ones these machines need: the pause image built
// here, cgroupfs (no systemd), and restrict_oom_score_adj (lowering oom_score_adj is forbidden
// here, and without it every sandbox fails in runc).
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SANDBOX_IMAGE, paths } from './config.js';
import { sh, shOk, startDaemon, type Daemon } from './processes.js';

const CTR = 'ctr';

/** overlayfs when this filesystem can carry it (a trial mount), else the native snapshotter. */
export async function chooseSnapshotter(): Promise<'overlayfs' | 'native'> {
  const dir = join(paths.state, 'overlay-check');
  const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => join(dir, d)) as [string, string, string, string];
  try {
    for (const d of [lower, upper, work, merged]) await mkdir(d, { recursive: true });
    const r = await sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
    if (r.code !== 0) return 'native';
    await sh('umount', [merged]);
    return 'overlayfs';
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function containerdConfig(snapshotter: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `# Written by src/devenv/node/containerd.ts for the ocsp-operator test node.
version = 2
root = "${paths.containerdRoot}"
state = "${paths.containerdState}"
oom_score = 0

[grpc]
  address = "${paths.containerdSocket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(paths.state, 'opt')}"

[${cri}]
  sandbox_image = "${SANDBOX_IMAGE}"
  # these machines forbid lowering oom_score_adj, even for root
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

  [${cri}.containerd]
    snapshotter = "${snapshotter}"
    default_runtime_name = "runc"
    discard_unpacked_layers = false

    [${cri}.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [${cri}.containerd.runtimes.runc.options]
        SystemdCgroup = false

  [${cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${paths.cniConfDir}"
    max_conf_num = 1
`;
}

function ctr(args: string[], namespace = 'k8s.io', timeoutMs = 60_000) {
  return sh(CTR, ['--address', paths.containerdSocket, '--connect-timeout', '2s', '--namespace', namespace, ...args], timeoutMs);
}

export async function containerdResponds(): Promise<boolean> {
  if (!existsSync(paths.containerdSocket)) return false;
  return (await ctr(['version'], 'k8s.io', 5_000)).code === 0;
}

export async function startContainerd(snapshotter: string): Promise<Daemon> {
  for (const d of [paths.containerdRoot, paths.containerdState]) await mkdir(d, { recursive: true });
  await writeFile(paths.containerdConfig, containerdConfig(snapshotter));
  return startDaemon('containerd', '/usr/bin/containerd', ['--config', paths.containerdConfig, '--log-level', 'warn']);
}

/** Imports docker-archive tarballs into the CRI's namespace, unpacked for the node's snapshotter. */
export async function importImages(tarballs: string[], snapshotter: string): Promise<void> {
  for (const tarball of tarballs) {
    await shOk(
      CTR,
      ['--address', paths.containerdSocket, '--namespace', 'k8s.io', 'images', 'import', '--snapshotter', snapshotter, tarball],
      10 * 60_000,
    );
  }
}

/** The images in the CRI's namespace. */
export async function listImages(): Promise<string[]> {
  const r = await ctr(['images', 'ls', '-q']);
  return r.code === 0 ? r.stdout.split('\n').filter(Boolean) : [];
}

/** Kills every task of every namespace and removes the containers, while containerd still runs. */
export async function removeAllContainers(): Promise<void> {
  const nss = (await ctr(['namespaces', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
  for (const ns of nss) {
    const tasks = (await ctr(['tasks', 'ls', '-q'], ns)).stdout.split('\n').filter(Boolean);
    for (const id of tasks) await ctr(['tasks', 'kill', '--all', '--signal', 'SIGKILL', id], ns);
    for (const id of tasks) {
      for (let i = 0; i < 50; i++) {
        const r = await ctr(['tasks', 'delete', '--force', id], ns);
        if (r.code === 0 || /not found/i.test(r.stderr)) break;
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    const containers = (await ctr(['containers', 'ls', '-q'], ns)).stdout.split('\n').filter(Boolean);
    for (const id of containers) await ctr(['containers', 'delete', id], ns);
  }
}
