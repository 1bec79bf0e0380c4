// The node's network, all inside the machine: the bridge ocsp0 (10.244.0.1/24: the pods' gateway
// and the node's address), a host route sending the Service CIDR to it, the CNI config for
// containerd (bridge + host-local + portmap; containerd itself sets up each pod's loopback with the
// loopback plugin), and the teardown of everything the CNI plugins, the kubelet and kube-proxy add:
// network namespaces, the bridge, KUBE-* and CNI-* iptables chains in both iptables backends,
// conntrack entries, and the sysctls the node changed.
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BRIDGE, CNI_NETWORK, NODE_IP, POD_CIDR, SERVICE_CIDR, paths } from './config.js';
import { sh, shOk } from './processes.js';

/** Host sysctls the node sets (kubelet's kernel tunables included), restored at teardown. */
const TUNED_SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/ipv4/conf/all/route_localnet',
  'net/netfilter/nf_conntrack_tcp_timeout_established',
  'net/netfilter/nf_conntrack_tcp_timeout_close_wait',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

async function readSysctl(name: string): Promise<string | undefined> {
  return (await readFile(`/proc/sys/${name}`, 'utf8').catch(() => undefined))?.trim();
}

/** Records the sysctls the node will change, once (a leftover record from a killed run wins). */
export async function saveSysctls(): Promise<void> {
  if (existsSync(paths.savedSysctls)) return;
  const saved: Record<string, string> = {};
  for (const name of TUNED_SYSCTLS) {
    const v = await readSysctl(name);
    if (v !== undefined) saved[name] = v;
  }
  await mkdir(paths.run, { recursive: true });
  await writeFile(paths.savedSysctls, JSON.stringify(saved));
}

async function restoreSysctls(): Promise<void> {
  const raw = await readFile(paths.savedSysctls, 'utf8').catch(() => undefined);
  if (!raw) return;
  for (const [name, value] of Object.entries(JSON.parse(raw) as Record<string, string>)) {
    if ((await readSysctl(name)) !== value) await writeFile(`/proc/sys/${name}`, value).catch(() => {});
  }
  await rm(paths.savedSysctls, { force: true });
}

/** The bridge with the node's address, the Service route, forwarding and br_netfilter on. */
export async function setUpHostNetwork(): Promise<void> {
  await saveSysctls();
  if ((await sh('ip', ['link', 'show', BRIDGE])).code !== 0) await shOk('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  const addrs = await shOk('ip', ['-4', '-o', 'addr', 'show', 'dev', BRIDGE]);
  if (!addrs.includes(`${NODE_IP}/24`)) await shOk('ip', ['addr', 'add', `${NODE_IP}/24`, 'dev', BRIDGE]);
  await shOk('ip', ['link', 'set', BRIDGE, 'up']);
  // Packets for Service IPs never take the default route: kube-proxy rewrites them on the way,
  // and whatever it does not rewrite ends on the bridge, inside the machine.
  await shOk('ip', ['route', 'replace', SERVICE_CIDR, 'dev', BRIDGE, 'src', NODE_IP]);
  // Pods reach ClusterIPs through the host (DNAT, then back onto the bridge).
  await writeFile('/proc/sys/net/ipv4/ip_forward', '1');
  if (!existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) await sh('modprobe', ['br_netfilter']);
  await writeFile('/proc/sys/net/bridge/bridge-nf-call-iptables', '1');
}

/** The CNI config containerd's CRI plugin reads: pods on ocsp0, routes to the pod and Service CIDRs only. */
export async function writeCniConfig(): Promise<void> {
  await mkdir(paths.cniConfDir, { recursive: true });
  const conf = {
    cniVersion: '1.0.0',
    name: CNI_NETWORK,
    plugins: [
      {
        type: 'bridge',
        bridge: BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: paths.cniIpamDir,
          ranges: [[{ subnet: POD_CIDR, gateway: NODE_IP, rangeStart: '10.244.0.10' }]],
          // The pod CIDR is on-link through the bridge; the Service CIDR goes via the gateway
          // (the host, where kube-proxy's rules are). No default route: nothing leaves.
          routes: [{ dst: SERVICE_CIDR }],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
  await writeFile(join(paths.cniConfDir, '10-ocsp-node.conflist'), JSON.stringify(conf, null, 2));
}

const OUR_CHAIN = /^(KUBE-|CNI-)/;
const IPTABLES = ['iptables-nft', 'iptables-legacy', 'ip6tables-nft', 'ip6tables-legacy'];

/** The KUBE-* and CNI-* chains of one backend: `table:chain` list. */
async function ourChains(bin: string): Promise<string[]> {
  const save = await sh(`${bin}-save`, []);
  if (save.code !== 0) return [];
  const found: string[] = [];
  let table = '';
  for (const line of save.stdout.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0] ?? '';
      if (OUR_CHAIN.test(chain)) found.push(`${table}:${chain}`);
    }
  }
  return found;
}

/** Removes the KUBE-* and CNI-* chains and every rule that jumps to them, in one backend. */
async function flushOurChains(bin: string): Promise<void> {
  const save = await sh(`${bin}-save`, []);
  if (save.code !== 0 || !/^:(KUBE-|CNI-)/m.test(save.stdout)) return;
  const script: string[] = [];
  let table = '';
  let chains: string[] = [];
  let rules: string[] = [];
  const flushTable = () => {
    if (!table || (chains.length === 0 && rules.length === 0)) return;
    script.push(`*${table}`, ...rules, ...chains.map((c) => `-F ${c}`), ...chains.map((c) => `-X ${c}`), 'COMMIT');
  };
  for (const line of save.stdout.split('\n')) {
    if (line.startsWith('*')) {
      table = line.slice(1);
      chains = [];
      rules = [];
    } else if (line.startsWith(':')) {
      const chain = line.slice(1).split(' ')[0] ?? '';
      if (OUR_CHAIN.test(chain)) chains.push(chain);
    } else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1] ?? '';
      // Rules inside our chains go with them; a rule elsewhere that jumps into one is deleted.
      if (!OUR_CHAIN.test(chain) && / -[jg] (KUBE-|CNI-)/.test(line)) rules.push(`-D ${line.slice(3)}`);
    } else if (line === 'COMMIT') {
      flushTable();
      table = '';
    }
  }
  const restore = await sh(`${bin}-restore`, ['--noflush'], 60_000, `${script.join('\n')}\n`);
  if (restore.code !== 0) throw new Error(`${bin}-restore could not remove the node's chains: ${restore.stderr.trim()}`);
}

export async function removeIptablesChains(): Promise<void> {
  for (const bin of IPTABLES) if ((await sh('which', [bin])).code === 0) await flushOurChains(bin);
}

export async function remainingIptablesChains(): Promise<string[]> {
  const left: string[] = [];
  for (const bin of IPTABLES) {
    if ((await sh('which', [bin])).code !== 0) continue;
    for (const c of await ourChains(bin)) left.push(`${bin} ${c}`);
  }
  return left;
}

/** The network namespaces the CNI plugins made for pods. */
export async function cniNetns(): Promise<string[]> {
  return (await readdir(paths.netnsDir).catch(() => [] as string[])).filter((n) => n.startsWith('cni-'));
}

export async function bridgeExists(): Promise<boolean> {
  return (await sh('ip', ['link', 'show', BRIDGE])).code === 0;
}

/** Everything of the node's network, whatever state a run left it in. */
export async function tearDownNetwork(): Promise<void> {
  for (const ns of await cniNetns()) {
    if ((await sh('ip', ['netns', 'delete', ns])).code !== 0) {
      await sh('umount', ['-l', join(paths.netnsDir, ns)]);
      await rm(join(paths.netnsDir, ns), { force: true });
    }
  }
  if (await bridgeExists()) await shOk('ip', ['link', 'delete', BRIDGE]); // its veths and routes go with it
  await removeIptablesChains();
  for (const cidr of [POD_CIDR, SERVICE_CIDR]) {
    await sh('conntrack', ['-D', '-s', cidr]);
    await sh('conntrack', ['-D', '-d', cidr]);
  }
  // libcni's cached results for the node's network (containerd cannot move that cache).
  for (const f of await readdir(paths.cniCacheDir).catch(() => [] as string[])) {
    if (f.startsWith(`${CNI_NETWORK}-`)) await rm(join(paths.cniCacheDir, f), { force: true });
  }
  await restoreSysctls();
}
