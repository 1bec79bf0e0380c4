// Runs wrk against one URL with a Lua script that fixes the request and prints the summary as
// JSON from done(), so numbers are read exactly rather than scraped from the human report.
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface WrkResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  errors: number;
}

export interface WrkRun {
  url: string;
  method: 'GET' | 'POST';
  body?: Uint8Array;
  connections: number;
  threads: number;
  durationS: number;
  dir: string;
}

function luaString(bytes: Uint8Array): string {
  return '"' + Array.from(bytes, (b) => `\\${b}`).join('') + '"';
}

export async function runWrk(o: WrkRun): Promise<WrkResult> {
  const script = join(o.dir, `wrk-${Date.now()}.lua`);
  await writeFile(
    script,
    `-- wrk's default resolve() opens and closes an empty connection to each address to test it;
-- openssl's responder spins on such a connection, so take the address without a probe.
function wrk.resolve(host, service)
  wrk.addrs = wrk.lookup(host, service)
end
wrk.method = "${o.method}"
${o.body ? `wrk.body = ${luaString(o.body)}\nwrk.headers["Content-Type"] = "application/ocsp-request"` : ''}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nWRKJSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non2xx":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), e.status, e.connect + e.read + e.write + e.timeout))
end
`,
  );
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn(
      'wrk',
      ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.durationS}s`, '--timeout', '5s', '-s', script, o.url],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let so = '';
    let se = '';
    p.stdout.on('data', (d: Buffer) => (so += d.toString()));
    p.stderr.on('data', (d: Buffer) => (se += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(so) : reject(new Error(`wrk exited ${code}: ${se}`))));
  });
  const m = /WRKJSON (\{.*\})/.exec(out);
  if (!m) throw new Error(`wrk printed no summary:\n${out}`);
  const j = JSON.parse(m[1]!) as { requests: number; duration_us: number; p50_us: number; p99_us: number; non2xx: number; errors: number };
  return {
    rps: j.requests / (j.duration_us / 1e6),
    p50Ms: j.p50_us / 1000,
    p99Ms: j.p99_us / 1000,
    requests: j.requests,
    non2xx: j.non2xx,
    errors: j.errors,
  };
}
