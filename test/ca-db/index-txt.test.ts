// index.txt as openssl ca writes it (V/R/E, UTCTime, reasons in openssl's spelling), bad lines
// reported and skipped; declared revocations laid over it.
import { describe, expect, it } from 'vitest';
import { applyDeclaredRevocations, parseIndexTxt } from '../../src/ca-db/index-txt.js';
import { createCa, indexTxt, issueLeaf } from '../support/pki.js';

describe('index.txt source', () => {
  it('reads V, R (with and without reason) and E lines', () => {
    const text = [
      'V\t270101000000Z\t\t0A1B\tunknown\t/CN=a',
      'R\t270101000000Z\t250304050607Z,keyCompromise\t00FF\tunknown\t/CN=b',
      'R\t270101000000Z\t250304050607Z\t10\tunknown\t/CN=c',
      'R\t270101000000Z\t250304050607Z,CACompromise\t11\tunknown\t/CN=d',
      'R\t270101000000Z\t250304050607Z,certificateHold,holdInstructionReject\t12\tunknown\t/CN=e',
      'E\t200101000000Z\t\t13\tunknown\t/CN=f',
      'V\t20570101000000Z\t\t14\tunknown\t/CN=g',
      '',
    ].join('\n');
    const r = parseIndexTxt(text);
    expect(r.problems).toEqual([]);
    const t = Date.UTC(2025, 2, 4, 5, 6, 7);
    expect(r.certificates).toEqual([
      { serial: 'a1b', notAfter: Date.UTC(2027, 0, 1) },
      { serial: 'ff', notAfter: Date.UTC(2027, 0, 1), revoked: { time: t, reason: 'keyCompromise' } },
      { serial: '10', notAfter: Date.UTC(2027, 0, 1), revoked: { time: t } },
      { serial: '11', notAfter: Date.UTC(2027, 0, 1), revoked: { time: t, reason: 'cACompromise' } },
      { serial: '12', notAfter: Date.UTC(2027, 0, 1), revoked: { time: t, reason: 'certificateHold' } },
      { serial: '13', notAfter: Date.UTC(2020, 0, 1) },
      { serial: '14', notAfter: Date.UTC(2057, 0, 1) },
    ]);
  });

  it('names the line and the problem of each bad line and keeps the rest', () => {
    const r = parseIndexTxt(
      [
        'V\t270101000000Z\t\t01\tunknown\t/CN=a',
        'V\tsoon\t\t02\tx\t/CN=b',
        'X\t270101000000Z\t\t03\tx\t/CN=c',
        'R\t270101000000Z\tyesterday\t04\tx\t/CN=d',
        'R\t270101000000Z\t250304050607Z,oops\t05\tx\t/CN=e',
        'V\t270101000000Z\t\tzz\tx\t/CN=f',
        'garbage',
      ].join('\n'),
    );
    expect(r.certificates.map((c) => c.serial)).toEqual(['1']);
    expect(r.problems).toEqual([
      { line: 2, message: 'bad expiry time "soon"' },
      { line: 3, message: 'unknown status "X" (V, R or E)' },
      { line: 4, message: 'serial 4: bad revocation time "yesterday"' },
      { line: 5, message: 'serial 5: unknown revocation reason "oops"' },
      { line: 6, message: 'bad serial "zz"' },
      { line: 7, message: 'expected at least 4 tab-separated fields, got 1' },
    ]);
  });

  it('reads what the test PKI (openssl format) writes', async () => {
    const ca = await createCa();
    const a = await issueLeaf(ca);
    const b = await issueLeaf(ca);
    const r = parseIndexTxt(
      indexTxt([
        { cert: a.cert, status: 'V' },
        { cert: b.cert, status: 'R', revokedAt: new Date('2025-06-01T00:00:00Z'), reason: 'superseded' },
      ]),
    );
    expect(r.certificates).toEqual([
      { serial: a.serial.toLowerCase().replace(/^0+/, ''), notAfter: Math.floor(a.cert.notAfter.getTime() / 1000) * 1000 },
      {
        serial: b.serial.toLowerCase().replace(/^0+/, ''),
        notAfter: Math.floor(b.cert.notAfter.getTime() / 1000) * 1000,
        revoked: { time: Date.UTC(2025, 5, 1), reason: 'superseded' },
      },
    ]);
  });

  it('declared revocations override the source and ignore unknown serials', () => {
    const certs = [
      { serial: 'a', notAfter: 1 },
      { serial: 'b', notAfter: 1 },
    ];
    expect(
      applyDeclaredRevocations(certs, [
        { serial: '0A', time: 5, reason: 'keyCompromise' },
        { serial: 'ff', time: 6 },
      ]),
    ).toEqual([
      { serial: 'a', notAfter: 1, revoked: { time: 5, reason: 'keyCompromise' } },
      { serial: 'b', notAfter: 1 },
    ]);
    expect(() => applyDeclaredRevocations(certs, [{ serial: 'b', time: 1, reason: 'bogus' }])).toThrow(
      /declared revocation of b: unknown reason "bogus"/,
    );
  });
});
