// Fetching an OCSP response from the CA's responder, POST (the default) or GET (RFC 6960 A.1,
// cache-friendly). Every failure comes back as a reason and a message that names the responder;
// the body is bounded, so a misbehaving responder cannot exhaust memory.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ocspGetUrl } from '../ocsp/index.js';

export type FetchFailureReason = 'ResponderUnreachable' | 'ResponderTimeout' | 'ResponderHttpError' | 'ResponseTooLarge';

type Outcome = { ok: true; body: Uint8Array; contentType: string } | { ok: false; reason: FetchFailureReason; message: string };
export type FetchResult = Outcome & { latencyMs: number };

export const MAX_RESPONSE_BYTES = 64 * 1024; // real responses are a few KiB; chains of certs rarely pass 10

export async function fetchOcspResponse(o: {
  url: string;
  requestDer: Uint8Array;
  method: 'POST' | 'GET';
  timeoutMs: number;
}): Promise<FetchResult> {
  const started = performance.now();
  const target = o.method === 'GET' ? ocspGetUrl(o.url, o.requestDer) : o.url;
  const url = new URL(target);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const done = (r: Outcome): FetchResult => ({ ...r, latencyMs: performance.now() - started });
  return new Promise<FetchResult>((resolve) => {
    const req = send(
      url,
      {
        method: o.method,
        headers:
          o.method === 'POST'
            ? { 'Content-Type': 'application/ocsp-request', 'Content-Length': o.requestDer.length, Accept: 'application/ocsp-response' }
            : { Accept: 'application/ocsp-response' },
        timeout: o.timeoutMs,
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) {
            res.destroy();
            resolve(
              done({ ok: false, reason: 'ResponseTooLarge', message: `responder ${o.url} sent more than ${MAX_RESPONSE_BYTES} bytes` }),
            );
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const body = Buffer.concat(chunks);
          if (status !== 200) {
            resolve(
              done({
                ok: false,
                reason: 'ResponderHttpError',
                message: `responder ${o.url} answered HTTP ${status} (${body.length} bytes)`,
              }),
            );
          } else {
            resolve(done({ ok: true, body: new Uint8Array(body), contentType: String(res.headers['content-type'] ?? '') }));
          }
        });
        res.on('error', (err) =>
          resolve(
            done({ ok: false, reason: 'ResponderUnreachable', message: `responder ${o.url} broke off the response: ${err.message}` }),
          ),
        );
      },
    );
    req.on('timeout', () => {
      req.destroy();
      resolve(done({ ok: false, reason: 'ResponderTimeout', message: `responder ${o.url} did not answer within ${o.timeoutMs} ms` }));
    });
    req.on('error', (err) =>
      resolve(done({ ok: false, reason: 'ResponderUnreachable', message: `responder ${o.url} unreachable: ${err.message}` })),
    );
    if (o.method === 'POST') req.end(o.requestDer);
    else req.end();
  });
}
