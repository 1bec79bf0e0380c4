#!/usr/bin/env node
// The kubectl-ocsp executable (package.json "bin"; bin/kubectl-ocsp runs it from a checkout; the
// single executable of hack/build-kubectl-ocsp.sh is this file bundled). Run under the name
// kubectl_complete-ocsp (a link), it answers kubectl's completion of `kubectl ocsp …`.
import { basename } from 'node:path';
import { main } from './run.js';

const args = process.argv.slice(2);
void main(basename(process.argv0).startsWith('kubectl_complete-') ? ['__complete', ...args] : args).then((code) => {
  process.exitCode = code;
});
