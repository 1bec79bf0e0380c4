// The ceiling for Node: a node:http server that answers every request with the same bytes from
// memory and does nothing else. Run as a child: argv[2] is the DER file; prints its port.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const body = readFileSync(process.argv[2]!);
const headers = ['Content-Type', 'application/ocsp-response', 'Content-Length', String(body.length)];
const server = createServer((req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`);
});
