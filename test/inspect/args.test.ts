// kubectl-ocsp's parsing and rendering without a cluster: flags, durations, which objects, the
// `get` table, Events as describe prints them, completion candidates, the refresh request the
// reconciler reads, and the version.
import { describe, expect, it } from 'vitest';
import { parseCli, parseKind, parseTimeout, selection } from '../../src/kubectl-plugin/args.js';
import { complete, completionScript } from '../../src/kubectl-plugin/completion.js';
import { eventsText } from '../../src/kubectl-plugin/events.js';
import { getTable } from '../../src/kubectl-plugin/get.js';
import type { Connection } from '../../src/kubectl-plugin/kube.js';
import { pluginVersion } from '../../src/kubectl-plugin/version.js';
import { execute } from '../../src/cmd/kubectl-ocsp.js';
import { ANNOTATION_REFRESH_REQUESTED } from '../../src/api/annotations.js';
import { refreshRequest } from '../../src/staple/refresh-request.js';
import pkg from '../../package.json' with { type: 'json' };

const now = new Date('2026-03-01T12:00:00Z');

describe('parseCli', () => {
  it('kubectl flags: -n, -A, -l, -o, --context, --kubeconfig', () => {
    const c = parseCli(['get', 'staples', '-A', '-l', 'app=web', '-o', 'wide', '--context', 'prod', '--kubeconfig', '/k']);
    expect(c).toMatchObject({
      command: 'get',
      args: ['staples'],
      allNamespaces: true,
      selector: 'app=web',
      output: 'wide',
      context: 'prod',
      kubeconfig: '/k',
    });
    expect(parseCli(['inspect', 'staple', 'a', 'b', '-n', 'x'])).toMatchObject({
      args: ['staple', 'a', 'b'],
      namespace: 'x',
      allNamespaces: false,
      output: 'text',
    });
    expect(parseCli(['get', 'pools', '-oyaml']).output).toBe('yaml');
  });

  it('rejects what kubectl would: an unknown -o, -A with -n, an unknown flag', () => {
    expect(() => parseCli(['get', 'staples', '-o', 'xml'])).toThrow(/--output must be one of text, wide, json, yaml, name, got "xml"/);
    expect(() => parseCli(['get', 'staples', '-A', '-n', 'x'])).toThrow(/-A \(all namespaces\) and -n NAMESPACE exclude each other/);
    expect(() => parseCli(['get', 'staples', '--frobnicate'])).toThrow(/Unknown option '--frobnicate'/);
  });

  it('--timeout is a duration; a bare number is seconds, as kubectl --request-timeout', () => {
    expect(parseCli(['version', '--timeout', '30s']).timeoutMs).toBe(30_000);
    expect(parseTimeout('1m30s')).toBe(90_000);
    expect(parseTimeout('1500ms')).toBe(1500);
    expect(parseTimeout('7')).toBe(7000);
    expect(parseCli(['version']).timeoutMs).toBeUndefined();
    for (const bad of ['0', '0s', 'soon', '-5s', '10 s', ''])
      expect(() => parseTimeout(bad), bad).toThrow(/--timeout must be a positive duration like 30s/);
  });
});

describe('which objects', () => {
  it('kinds by every name kubectl users type, and only the ones a command takes', () => {
    expect(parseKind('ocspstaples', ['staple', 'pool'], 'get')).toBe('staple');
    expect(parseKind('ORP', ['staple', 'pool'], 'get')).toBe('pool');
    expect(parseKind('ocspresponderpools.ocsp-operator.dev', ['staple', 'pool'], 'get')).toBe('pool');
    expect(() => parseKind('secret', ['staple', 'pool'], 'get staples|pools')).toThrow(
      'usage: kubectl ocsp get staples|pools (staple, pool; got "secret")',
    );
    expect(() => parseKind(undefined, ['staple'], 'get')).toThrow(/got nothing/);
  });

  it('names, or a selector, in one namespace or all; refresh needs to be told which', () => {
    const cli = (...a: string[]) => parseCli(['x', ...a]);
    expect(selection(cli('-l', 'a=b', '-A'), [], { requireSome: false, shape: 's' })).toEqual({
      names: [],
      selector: 'a=b',
      allNamespaces: true,
    });
    expect(() => selection(cli('-l', 'a=b'), ['n'], { requireSome: false, shape: 's' })).toThrow(/NAME... or -l SELECTOR, not both/);
    expect(() => selection(cli('-A'), ['n'], { requireSome: false, shape: 's' })).toThrow(/NAME... cannot be used with -A/);
    expect(() => selection(cli(), [], { requireSome: true, shape: 'refresh NAME...' })).toThrow(
      /which ones\? give NAME..., -l SELECTOR, --all \(this namespace\) or -A/,
    );
    expect(selection(cli('--all'), [], { requireSome: true, shape: 's' })).toEqual({ names: [], allNamespaces: false });
  });
});

describe('rendering', () => {
  const staple = (name: string, ns: string, status: Record<string, unknown>, annotations: Record<string, string> = {}) => ({
    metadata: { name, namespace: ns, creationTimestamp: '2026-03-01T10:00:00Z', annotations },
    spec: { secretName: `${name}-tls` },
    status,
  });
  const good = staple('web', 'a', {
    conditions: [
      { type: 'Ready', status: 'True', reason: 'Stapled', message: '', lastTransitionTime: '' },
      { type: 'Fresh', status: 'True', reason: 'Refreshed', message: '', lastTransitionTime: '' },
    ],
    staple: { certStatus: 'good', usableUntil: '2026-03-03T12:00:00Z' },
    nextRefreshTime: '2026-03-02T00:00:00Z',
    certificate: { serial: '0a1b' },
    consecutiveFailures: 0,
    lastSuccessTime: '2026-03-01T11:30:00Z',
  });
  const expired = staple(
    'old',
    'b',
    {
      conditions: [{ type: 'Ready', status: 'False', reason: 'StapleExpired', message: '', lastTransitionTime: '' }],
      staple: { certStatus: 'good', usableUntil: '2026-03-01T09:00:00Z' },
      consecutiveFailures: 4,
    },
    { [ANNOTATION_REFRESH_REQUESTED]: '2026-03-01T11:59:00Z' },
  );
  const fresh = staple('new', 'a', {});

  it('get staples: relative times, EXPIRED, <none>; NAMESPACE only with -A; wide adds the details', () => {
    expect(getTable('staple', [good, expired, fresh], { wide: false, allNamespaces: false, now }).split('\n')).toEqual([
      'NAME   READY     REASON          OCSP     USABLE UNTIL     NEXT REFRESH   AGE',
      'web    True      Stapled         good     in 2d            in 12h         2h',
      'old    False     StapleExpired   good     EXPIRED 3h ago   <none>         2h',
      'new    Unknown   <none>          <none>   <none>           <none>         2h',
    ]);
    const wide = getTable('staple', [good, expired], { wide: true, allNamespaces: true, now }).split('\n');
    expect(wide[0]).toBe(
      'NAMESPACE   NAME   READY   REASON          OCSP   USABLE UNTIL     NEXT REFRESH   AGE   SECRET    SERIAL   FRESH       FAILURES   LAST SUCCESS   REFRESH REQUESTED',
    );
    expect(wide[2]).toMatch(/^b +old .* old-tls +<none> +<none> +4 +<none> +2026-03-01T11:59:00Z$/);
  });

  it('get pools', () => {
    const pool = {
      metadata: { name: 'ca', namespace: 'p', creationTimestamp: '2026-02-01T12:00:00Z' },
      spec: { store: { type: 'Redis' } },
      status: {
        certificates: 1200,
        backlog: 35,
        oldestResponse: '2026-02-27T08:00:00Z',
        signers: { ready: 2, desired: 3 },
        responders: { ready: 2, outOfRotation: ['r-1'] },
      },
    };
    expect(getTable('pool', [pool], { wide: true, allNamespaces: false, now }).split('\n')).toEqual([
      'NAME   READY     REASON   CERTIFICATES   BACKLOG   OLDEST RESPONSE   SIGNERS   RESPONDERS   AGE   STORE   MISSING   REVOKED   OUT OF ROTATION',
      'ca     Unknown   <none>   1200           35        2d4h old          2/3       2            28d   Redis   <none>    <none>    r-1',
    ]);
  });

  it('Events as kubectl describe prints them, repeats counted; none; not allowed', () => {
    const text = eventsText(
      {
        ok: true,
        events: [
          {
            type: 'Warning',
            reason: 'TryLater',
            time: '2026-03-01T11:58:00Z',
            count: 3,
            firstTime: '2026-03-01T11:00:00Z',
            from: 'ocsp-operator.dev/staple-controller',
            note: 'Ready=False: busy',
          },
          {
            type: 'Normal',
            reason: 'Stapled',
            time: '2026-03-01T11:59:30Z',
            count: 1,
            from: 'ocsp-operator.dev/staple-controller',
            note: 'Ready=True: ok',
          },
        ],
      },
      now,
    );
    expect(text.split('\n')).toEqual([
      'Events:',
      '  TYPE      REASON     AGE               FROM                                  MESSAGE',
      '  Warning   TryLater   2m (x3 over 1h)   ocsp-operator.dev/staple-controller   Ready=False: busy',
      '  Normal    Stapled    30s               ocsp-operator.dev/staple-controller   Ready=True: ok',
    ]);
    expect(eventsText({ ok: true, events: [] }, now)).toBe('Events:  <none>');
    expect(eventsText({ ok: false, message: 'cannot list events in a: Forbidden' }, now)).toBe(
      'Events:  (cannot list events in a: Forbidden)',
    );
  });
});

describe('refresh request (read by the staple reconciler)', () => {
  const obj = (v?: string) => ({
    metadata: { annotations: (v === undefined ? {} : { [ANNOTATION_REFRESH_REQUESTED]: v }) as Record<string, string> },
  });
  it('none without the annotation; due at once without an earlier attempt; else minInterval after it', () => {
    expect(refreshRequest(obj(), '2026-03-01T11:59:00Z', 60_000)).toBeUndefined();
    expect(refreshRequest(obj('2026-03-01T12:00:00Z'), undefined, 60_000)).toEqual({ value: '2026-03-01T12:00:00Z', notBefore: 0 });
    expect(refreshRequest(obj('x'), '2026-03-01T11:59:30Z', 60_000)).toEqual({ value: 'x', notBefore: Date.parse('2026-03-01T12:00:30Z') });
  });
});

describe('completion, version, help (no cluster)', () => {
  const noCluster = (): Connection => {
    throw new Error('no cluster in this test');
  };
  const cands = async (...words: string[]) => (await complete(words, noCluster)).trimEnd().split('\n');

  it('commands, kinds, formats and flags; cobra directives (:4 no files, :0 files)', async () => {
    expect(await cands('')).toEqual(['get', 'inspect', 'refresh', 'fetch', 'probe', 'version', 'completion', ':4']);
    expect(await cands('in')).toEqual(['inspect', ':4']);
    expect(await cands('get', '')).toEqual(['staples', 'pools', ':4']);
    expect(await cands('inspect', 's')).toEqual(['staple', 'secret', ':4']);
    expect(await cands('get', 'staples', '-o', '')).toEqual(['wide', 'json', 'yaml', 'name', ':4']);
    expect(await cands('inspect', 'pool', '-o', '')).toEqual(['text', 'json', 'yaml', ':4']);
    expect(await cands('refresh', '--w')).toEqual(['--wait', ':4']);
    expect(await cands('fetch', '')).toEqual([':0']);
    expect(await cands('completion', '')).toEqual(['bash', 'zsh', ':4']);
    // names come from the cluster; without one there are none, quietly
    expect(await cands('get', 'staples', '')).toEqual([':4']);
    // through execute(): the words as typed, a half-written flag and -n included (no flag parsing)
    let text = '';
    expect(await execute(['__complete', '-n', 'x', 'refresh', '--w'], (s) => (text += s))).toBe(0);
    expect(text).toBe('--wait\n:4\n');
  });

  it('scripts for bash and zsh that ask `kubectl-ocsp __complete`', () => {
    expect(completionScript('bash')).toContain('complete -F _kubectl_ocsp kubectl-ocsp');
    expect(completionScript('zsh')).toContain('compdef _kubectl_ocsp kubectl-ocsp');
    for (const s of ['bash', 'zsh']) expect(completionScript(s)).toContain('kubectl-ocsp __complete');
    expect(completionScript('fish')).toBeUndefined();
  });

  it("version is package.json's; --help lists every command", async () => {
    expect(pluginVersion()).toBe(pkg.version);
    let text = '';
    expect(await execute(['--help'], (s) => (text += s))).toBe(0);
    for (const c of ['get staples|pools', 'inspect staple|pool', 'refresh NAME...', 'version', 'completion bash|zsh', '--timeout DURATION'])
      expect(text).toContain(c);
  });

  it('usage errors: -o wide on inspect, completion for an unknown shell', async () => {
    await expect(execute(['inspect', 'staple', 'x', '-o', 'wide'], () => {})).rejects.toThrow(
      '-o wide does not apply to inspect: one of text, json, yaml',
    );
    await expect(execute(['completion', 'fish'], () => {})).rejects.toThrow('completion for which shell? bash or zsh, got "fish"');
    await expect(execute(['refresh'], () => {})).rejects.toThrow(/which ones\?/);
  });
});
