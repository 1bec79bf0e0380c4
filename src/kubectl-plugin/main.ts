#!/usr/bin/env node
// The kubectl-ocsp executable, a shim over src/cmd/kubectl-ocsp.ts (package.json "bin";
// bin/kubectl-ocsp runs it from a checkout; the single executable of hack/build-kubectl-ocsp.sh is
// this file bundled). Run under the name kubectl_complete-ocsp (a link), it answers kubectl's
// completion of `kubectl ocsp …`.
import { basename } from 'node:path';
import { run } from '../cmd/kubectl-ocsp.js';

const args = process.argv.slice(2);
void run(basename(process.argv0).startsWith('kubectl_complete-') ? ['__complete', ...args] : args).then((code) => {
  process.exitCode = code;
});
