// How a StapleCheck (a certificate and the staple beside it) is shown: rows for the text output and
// a plain object for `-o json`. Shared by `inspect secret`, `inspect staple`, `fetch` and `probe`.
import type { ValidatedResponse } from '../ocsp/index.js';
import type { StapleCheck } from '../probe/check.js';
import { when, yesNo, type Row } from './format.js';

export function certificateRows(c: StapleCheck['certificate'], issuer: StapleCheck['issuer'], now: Date): Row[] {
  const expired = c.notAfter.getTime() <= now.getTime();
  return [
    ['serial', c.serial],
    ['subject', c.subject],
    ['issuer', issuer ? c.issuer : `${c.issuer} (not found beside it)`],
    ['not before', when(c.notBefore, now)],
    ['not after', `${when(c.notAfter, now)}${expired ? ' EXPIRED' : ''}`],
    ['sha256', c.sha256],
    ['ocsp url', c.ocspUrls.length ? c.ocspUrls.join(', ') : 'none (OCSP does not apply)'],
    ['must-staple', yesNo(c.mustStaple)],
  ];
}

export function responseRows(r: ValidatedResponse, now: Date): Row[] {
  return [
    [
      'status',
      `${r.certStatus}${r.revocationTime ? ` since ${r.revocationTime.toISOString()}` : ''}${r.revocationReason ? ` (${r.revocationReason})` : ''}`,
    ],
    ['this update', when(r.thisUpdate, now)],
    ['next update', when(r.nextUpdate, now)],
    ['produced at', when(r.producedAt, now)],
    ['usable until', when(r.usableUntil, now)],
    [
      'signer',
      `${r.signer.subject} (${r.signer.delegated ? `delegated responder, valid until ${r.signer.notAfter.toISOString()}` : 'the issuer itself'})`,
    ],
    ['certid hash', r.certIdHash],
  ];
}

export function stapleRows(check: StapleCheck, now: Date): Row[] {
  const s = check.staple;
  if (!s.present) return [['present', 'no']];
  const rows: Row[] = [
    ['present', `yes (${s.bytes ?? 0} bytes)`],
    [
      'for',
      s.entries
        ? s.entries.map((e) => `serial ${e.serial} (${e.hashAlgorithm}${e.issuerMatches === false ? ', other issuer' : ''})`).join(', ')
        : 'nothing readable',
    ],
  ];
  if (s.validated) {
    rows.push(['valid', 'yes'], ...responseRows(s.validated, now));
  } else {
    rows.push(['valid', `no: ${s.failure?.reason ?? 'unknown'}: ${s.failure?.message ?? ''}`]);
    const e = s.entries?.find((x) => x.serial === check.certificate.serial) ?? s.entries?.[0];
    if (e)
      rows.push(
        ['status', e.certStatus],
        ['this update', when(e.thisUpdate, now)],
        ['next update', e.nextUpdate ? when(e.nextUpdate, now) : 'none'],
      );
  }
  return rows;
}

export function lockstepText(check: StapleCheck): string {
  const s = check.staple;
  if (!s.present) return 'no staple (nothing to pair)';
  const names = s.entries?.map((e) => e.serial).join(', ') ?? '?';
  if (s.matchesCertificate)
    return `yes: the staple is for serial ${check.certificate.serial}${check.issuer ? ` from ${check.issuer.subject}` : ' (issuer not checked: not found)'}`;
  return `NO: the staple is for serial ${names}, the certificate is ${check.certificate.serial}`;
}

export function checkJson(check: StapleCheck): Record<string, unknown> {
  const s = check.staple;
  const v = s.validated;
  return {
    certificate: check.certificate,
    issuer: check.issuer ?? null,
    staple: {
      present: s.present,
      ...(s.bytes !== undefined ? { bytes: s.bytes } : {}),
      ...(s.entries ? { for: s.entries } : {}),
      ...(s.matchesCertificate !== undefined ? { matchesCertificate: s.matchesCertificate } : {}),
      ...(s.valid !== undefined ? { valid: s.valid } : {}),
      ...(s.failure ? { failure: s.failure } : {}),
      ...(s.expiresAt ? { expiresAt: s.expiresAt } : {}),
      ...(v ? { response: responseJson(v) } : {}),
    },
    lockstep: s.present ? s.matchesCertificate === true : null,
    problems: check.problems,
  };
}

export function responseJson(v: ValidatedResponse): Record<string, unknown> {
  const { der: _der, ...rest } = v;
  return rest;
}
