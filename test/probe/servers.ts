// HAProxy and nginx on 127.0.0.1, one per staple case, each fed from its own kubelet-style Secret
// volume holding the current certificate and the case's staple.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHaproxy, startNginx, writeSecretVolume } from '../support/tls-servers.js';
import { CASES, HOST, secretData, startNginxWithoutStapleFile, type CaseName, type Pki } from './fixtures.js';

export type Kind = 'haproxy' | 'nginx';
export const KINDS: Kind[] = ['haproxy', 'nginx'];

export interface CaseServer {
  kind: Kind;
  case: CaseName;
  port: number;
  /** host:port@servername, as the prober and kubectl-ocsp take it */
  endpoint: string;
  /** HAProxy's runtime API socket */
  socket?: string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface CaseServers {
  get(kind: Kind, c: CaseName): CaseServer;
  all: CaseServer[];
  stop(): Promise<void>;
}

export async function startCaseServers(pki: Pki): Promise<CaseServers> {
  const all: CaseServer[] = [];
  const dirs: string[] = [];
  const stop = async () => {
    await Promise.all(all.map((s) => s.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  };
  try {
    for (const c of CASES) {
      const dir = await mkdtemp(join(tmpdir(), `ocsp-probe-${c}-`));
      dirs.push(dir);
      await writeSecretVolume(dir, secretData(pki, c));
      const h = await startHaproxy({ secretDir: dir });
      all.push({
        kind: 'haproxy',
        case: c,
        port: h.port,
        endpoint: `127.0.0.1:${h.port}@${HOST}`,
        socket: h.socket,
        log: h.log,
        stop: h.stop,
      });
      if (c === 'missing') {
        const n = await startNginxWithoutStapleFile({ certPath: join(dir, 'tls.crt'), keyPath: join(dir, 'tls.key') });
        all.push({ kind: 'nginx', case: c, port: n.port, endpoint: `127.0.0.1:${n.port}@${HOST}`, log: async () => '', stop: n.stop });
      } else {
        const n = await startNginx({ secretDir: dir, serverName: HOST });
        all.push({ kind: 'nginx', case: c, port: n.port, endpoint: `127.0.0.1:${n.port}@${HOST}`, log: n.log, stop: n.stop });
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    all,
    stop,
    get(kind, c) {
      const s = all.find((x) => x.kind === kind && x.case === c);
      if (!s) throw new Error(`no ${kind} server for case ${c}`);
      return s;
    },
  };
}
