#!/usr/bin/env node
// The kubectl-ocsp executable (package.json "bin"; bin/kubectl-ocsp runs it from a checkout).
import { main } from './run.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
