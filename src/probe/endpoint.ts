// TLS endpoints to probe: `HOST:PORT[@SERVERNAME]` on the command line, or a YAML/JSON file
//   endpoints:
//     - address: web.shop.svc:443      # what to connect to
//       servername: shop.example.com   # SNI (default: the host, unless it is an IP address)
//       issuerFile: /etc/ca/issuer.pem # for servers that send only the leaf (optional)
//     - "127.0.0.1:8443@shop.test"     # the short form works in the file too
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';

export interface Endpoint {
  host: string;
  port: number;
  /** SNI; undefined sends none */
  servername?: string;
  /** a PEM file holding the issuer, for servers that send the leaf alone */
  issuerFile?: string;
}

/** `host:port`, the label and log name of an endpoint. */
export function endpointAddress(e: Pick<Endpoint, 'host' | 'port'>): string {
  return `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

export function endpointName(e: Endpoint): string {
  return e.servername && e.servername !== e.host ? `${endpointAddress(e)}@${e.servername}` : endpointAddress(e);
}

function defaultServername(host: string): string | undefined {
  return isIP(host) ? undefined : host;
}

/** Parses `HOST:PORT[@SERVERNAME]` (IPv6 hosts in brackets). Throws a message naming the input. */
export function parseEndpoint(text: string, servername?: string): Endpoint {
  const at = text.lastIndexOf('@');
  const addr = at >= 0 ? text.slice(0, at) : text;
  const sni = at >= 0 ? text.slice(at + 1) : servername;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s@]+)):(\d{1,5})$/.exec(addr);
  const port = Number(m?.[3]);
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`endpoint ${JSON.stringify(text)} is not HOST:PORT[@SERVERNAME]`);
  }
  if (sni !== undefined && !/^[A-Za-z0-9.*-]{1,253}$/.test(sni))
    throw new Error(`endpoint ${JSON.stringify(text)}: servername ${JSON.stringify(sni)} is not a host name`);
  const host = (m[1] ?? m[2])!;
  const e: Endpoint = { host, port };
  const name = sni ?? defaultServername(host);
  if (name) e.servername = name;
  return e;
}

/** Reads an endpoints file (YAML or JSON). Throws a message naming the file and the entry. */
export function readEndpointsFile(path: string): Endpoint[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`endpoints file ${path}: ${(e as Error).message}`);
  }
  const list = Array.isArray(doc) ? doc : typeof doc === 'object' && doc !== null ? (doc as { endpoints?: unknown }).endpoints : undefined;
  if (!Array.isArray(list)) throw new Error(`endpoints file ${path}: expected a list, or an object with an "endpoints" list`);
  return list.map((item: unknown, i) => {
    const where = `endpoints file ${path}, entry #${i + 1}`;
    if (typeof item === 'string') {
      try {
        return parseEndpoint(item);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
      }
    }
    if (typeof item !== 'object' || item === null) throw new Error(`${where}: expected a string or an object`);
    const o = item as Record<string, unknown>;
    if (typeof o.address !== 'string') throw new Error(`${where}: "address" (HOST:PORT) is required`);
    for (const k of ['servername', 'issuerFile'] as const) {
      if (o[k] !== undefined && typeof o[k] !== 'string') throw new Error(`${where}: "${k}" must be a string`);
    }
    const unknown = Object.keys(o).filter((k) => !['address', 'servername', 'issuerFile'].includes(k));
    if (unknown.length) throw new Error(`${where}: unknown field(s) ${unknown.join(', ')}`);
    let e: Endpoint;
    try {
      e = parseEndpoint(o.address, o.servername as string | undefined);
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
    if (typeof o.issuerFile === 'string') e.issuerFile = o.issuerFile;
    return e;
  });
}
