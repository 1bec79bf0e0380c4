// Our responder as a child process for the benchmark: argv[2] is an embedded store log already
// holding the pre-signed responses, argv[3] the issuer PEM. Prints its URL.
import '../../src/ocsp/reflect-polyfill.js';
import { readFileSync } from 'node:fs';
import { X509Certificate } from '@peculiar/x509';
import { startResponder } from '../../src/responder/index.js';
import { EmbeddedStore } from '../../src/store/index.js';

const store = await EmbeddedStore.open({ path: process.argv[2]! });
const issuer = new X509Certificate(readFileSync(process.argv[3]!, 'utf8'));
const r = await startResponder({ store, issuers: [issuer], lagPolicy: 'ServeWhatItHas', logLevel: 'warn' });
process.stdout.write(`URL ${r.url}\n`);
