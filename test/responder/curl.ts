// curl as a real HTTP client: status, headers (lowercased) and body bytes of one request.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export async function curl(url: string, extra: string[] = []): Promise<CurlResult> {
  const dir = await mkdtemp(join(tmpdir(), 'ocsp-curl-'));
  try {
    const out = join(dir, 'body');
    // --path-as-is: send '//' and dot segments exactly as given, as broken clients do.
    const args = ['-sS', '--path-as-is', '--max-time', '10', '-D', '-', '-o', out, ...extra, url];
    const headerText = await new Promise<string>((resolve, reject) => {
      const p = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let so = '';
      let se = '';
      p.stdout.on('data', (d: Buffer) => (so += d.toString()));
      p.stderr.on('data', (d: Buffer) => (se += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve(so) : reject(new Error(`curl exited ${code}: ${se}`))));
    });
    const lines = headerText.split(/\r?\n/);
    const status = Number(/^HTTP\/[\d.]+ (\d+)/.exec(lines[0] ?? '')?.[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    let body = Buffer.alloc(0);
    try {
      body = await readFile(out);
    } catch {
      // no body (304, HEAD)
    }
    return { status, headers, body };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
