// A pool with a postgres source, on the operator's side: the signer container gets the database URL
// from the Secret through its environment (never in its arguments) and the source's settings as
// flags; the index carries the declared revocations for the signers to lay over the database's
// certificates; the signers' reports of the source become SourcesReadable.
import { describe, expect, it } from 'vitest';
import { buildPoolIndex } from '../../src/pool/index-builder.js';
import { databaseSources } from '../../src/pool/reconciler.js';
import type { PoolReports } from '../../src/report/protocol.js';
import { createCa } from '../support/pki.js';
import { renderPool, type RenderedContainer } from '../support/pool-render.js';

const spec = (postgres: Record<string, unknown>) => ({
  issuer: { secretName: 'ca' },
  signing: { softwareKey: { secretName: 'ca' } },
  sources: [{ clusterSecrets: {} }, { postgres: { urlSecretRef: { name: 'ca-db' }, ...postgres } }],
  store: { type: 'Embedded' },
});

const arg = (c: RenderedContainer, flag: string): string | undefined => {
  const args = c.args as string[];
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
};

function signerOf(s: Record<string, unknown>): RenderedContainer {
  const c = renderPool(s).templates[0]?.template.spec.containers.find((x) => x.name === 'signer');
  if (!c) throw new Error('no signer container');
  return c;
}

describe('a postgres source in the signer pod', () => {
  it('brings the URL from the Secret through the environment, the settings as flags, the revocations file', () => {
    const c = signerOf(spec({ table: 'pki.certs', columns: { serial: 'sn', reason: 'why' }, maxReplicationLag: '10s', pageSize: 2000 }));
    expect(c.env).toContainEqual({ name: 'OCSP_SOURCE_POSTGRES_URL', valueFrom: { secretKeyRef: { name: 'ca-db', key: 'url' } } });
    expect(arg(c, '--postgres-url-env')).toBe('OCSP_SOURCE_POSTGRES_URL');
    expect(arg(c, '--postgres-name')).toBe('pki/ca sources[1].postgres');
    expect(arg(c, '--postgres-max-lag')).toBe('10s');
    expect(arg(c, '--postgres-page-size')).toBe('2000');
    expect(arg(c, '--postgres-table')).toBe('pki.certs');
    expect(arg(c, '--postgres-columns')).toBe('serial=sn,reason=why');
    expect(arg(c, '--postgres-query')).toBeUndefined();
    expect(arg(c, '--revocations')).toBe('/etc/ocsp/index/revocations.json');
    expect(arg(c, '--index')).toBe('/etc/ocsp/index/index.txt');
  });

  it('passes a query as it is, with the defaults for the rest', () => {
    const query = "SELECT encode(sn, 'hex') AS serial, expires AS not_after, revoked AS revoked_at, why AS reason FROM certs";
    const c = signerOf(spec({ query }));
    expect(arg(c, '--postgres-query')).toBe(query);
    expect(arg(c, '--postgres-max-lag')).toBe('30s');
    expect(arg(c, '--postgres-page-size')).toBe('5000');
    expect(arg(c, '--postgres-table')).toBeUndefined();
    expect(arg(c, '--postgres-changed-at')).toBeUndefined();
  });

  it('a change column becomes reads for changes, with the full-read interval (default 10m)', () => {
    const c = signerOf(spec({ changedAt: 'updated_at' }));
    expect(arg(c, '--postgres-changed-at')).toBe('updated_at');
    expect(arg(c, '--postgres-full-read-every')).toBe('10m');
    expect(arg(signerOf(spec({ changedAt: 'modified', fullReadInterval: '1h' })), '--postgres-full-read-every')).toBe('1h');
  });

  it('renders nothing of it for a pool without one', () => {
    const c = signerOf({ ...spec({}), sources: [{ clusterSecrets: {} }] });
    expect((c.args as string[]).filter((a) => a.startsWith('--postgres') || a === '--revocations')).toEqual([]);
    expect(c.env?.map((e) => e.name)).not.toContain('OCSP_SOURCE_POSTGRES_URL');
  });
});

describe('the index of a pool whose signers read a source themselves', () => {
  it('carries the declared revocations and does not call a serial it cannot see unknown', async () => {
    const ca = await createCa();
    const revocations = [
      { serial: '0FF', time: Date.UTC(2026, 0, 1), reason: 'keyCompromise' },
      { serial: 'AB', time: Date.UTC(2026, 0, 2) },
    ];
    const withDb = buildPoolIndex({
      issuer: ca.cert,
      indexTexts: [],
      secrets: [],
      revocations,
      now: Date.UTC(2026, 0, 3),
      signerReadSources: true,
    });
    expect(withDb.problems).toEqual([]);
    expect(JSON.parse(withDb.revocations!)).toEqual([
      { serial: 'ab', time: Date.UTC(2026, 0, 2) },
      { serial: 'ff', time: Date.UTC(2026, 0, 1), reason: 'keyCompromise' },
    ]);
    const without = buildPoolIndex({ issuer: ca.cert, indexTexts: [], secrets: [], revocations, now: Date.UTC(2026, 0, 3) });
    expect(without.revocations).toBeUndefined();
    expect(without.problems).toHaveLength(2);
  });
});

describe('databaseSources: the signers reports of a source', () => {
  const signer = (pod: string, sources: NonNullable<PoolReports['signers'][number]['sources']>): PoolReports['signers'][number] => ({
    kind: 'signer',
    pod,
    time: 0,
    certificates: 10,
    due: 0,
    missing: 0,
    revoked: 1,
    outlivingTheirSigner: 0,
    sources,
  });
  const name = 'pki/ca sources[1].postgres';

  it('is lagging when one signer refuses, with its message; the figures count once every signer has read', () => {
    const d = databaseSources([
      signer('a', [{ name, state: 'read', maxLagMs: 30_000, lagMs: 0, certificates: 10 }]),
      signer('b', [
        { name, state: 'lagging', maxLagMs: 30_000, lagMs: 50_000, message: `${name}: the database server lags its primary by 45s` },
      ]),
    ]);
    expect(d).toEqual({ read: true, lagging: [`${name}: the database server lags its primary by 45s`], problems: [] });
  });

  it('names a failed read and unusable rows as problems; a source not yet read does not count the figures', () => {
    expect(databaseSources([signer('a', [{ name, state: 'failed', maxLagMs: 30_000, message: `${name}: cannot connect` }])])).toEqual({
      read: true,
      lagging: [],
      problems: [`${name}: cannot connect`],
    });
    expect(
      databaseSources([signer('a', [{ name, state: 'read', maxLagMs: 30_000, problems: 2, message: `${name}: 2 rows unusable` }])])
        .problems,
    ).toEqual([`${name}: 2 rows unusable`]);
    expect(databaseSources([signer('a', [{ name, state: 'pending', maxLagMs: 30_000 }])]).read).toBe(false);
    expect(databaseSources([{ ...signer('a', []), sources: undefined }])).toEqual({ read: false, lagging: [], problems: [] });
  });
});
