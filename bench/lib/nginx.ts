// nginx serving one DER file for every path: the practical ceiling for "bytes from a server",
// with as many worker processes as the server it is compared with.
import { spawn } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Child } from './processes.js';

export async function startNginx(dir: string, port: number, derFile: string, workers: number): Promise<Child> {
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    `worker_processes ${workers};
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port};
    merge_slashes off;
    location / {
      root ${dir};
      default_type application/ocsp-response;
      try_files /${derFile} =404;
    }
  }
}
`,
  );
  // nginx workers drop privileges when started as root: let them read the file.
  await chmod(dir, 0o755);
  await chmod(join(dir, derFile), 0o644);
  // Its own process group, so that master and workers can be killed together if it misbehaves.
  const proc = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const killGroup = (): void => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const deadline = Date.now() + 10_000;
  let last: string;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`nginx exited: ${err}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/probe`);
      if (r.status === 200) break;
      last = `HTTP ${r.status}`;
    } catch (e) {
      last = String(e); // not up yet
    }
    if (Date.now() > deadline) {
      killGroup();
      throw new Error(`nginx did not start (${last}): ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    line: `http://127.0.0.1:${port}/`,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGQUIT');
      const t = setTimeout(killGroup, 3_000);
      await exited;
      clearTimeout(t);
    },
  };
}
