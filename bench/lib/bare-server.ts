// The ceiling for Node: a node:http server that answers every request with the same bytes from
// memory and does nothing else, in one process or in `workers` cluster workers sharing the port
// the way the responder's do (each accepting from the shared socket). Run as a child: argv[2] is
// the DER file, argv[3] the number of workers (default 1); prints its port once every worker listens.
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const workers = Number(process.argv[3] ?? 1);

if (workers > 1 && cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  let up = 0;
  for (let i = 0; i < workers; i++) {
    // Workers that all listen on port 0 share one port, chosen by the first.
    cluster.fork().once('listening', (addr: AddressInfo) => {
      if (++up === workers) process.stdout.write(`PORT ${addr.port}\n`);
    });
  }
  process.once('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    process.exit(0);
  });
} else {
  const body = readFileSync(process.argv[2]!);
  const headers = ['Content-Type', 'application/ocsp-response', 'Content-Length', String(body.length)];
  const server = createServer((req, res) => {
    res.writeHead(200, headers);
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => {
    if (cluster.isPrimary) process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`);
  });
}
