// The one rule by which both controllers turn condition transitions into Events
// (src/runtime/status-writer.ts), with each kind's own polarity.
import { describe, expect, it } from 'vitest';
import type { Condition } from '../../src/api/condition.js';
import { isBad as isBadPool } from '../../src/pool/conditions.js';
import { transitionEvents, type IsBad, type ProducedCondition } from '../../src/runtime/status-writer.js';
import { isBadStapleCondition } from '../../src/staple/conditions.js';

const T = '2025-01-01T00:00:00Z';
type S = ProducedCondition['status'];
const prev = (...cs: Array<[string, S, string]>): Condition[] =>
  cs.map(([type, status, reason]) => ({ type, status, reason, message: 'before', lastTransitionTime: T }));
const now = (...cs: Array<[string, S, string]>): ProducedCondition[] =>
  cs.map(([type, status, reason]) => ({ type, status, reason, message: `${type} says ${reason}` }));
const said = (previous: Condition[] | undefined, produced: ProducedCondition[], isBad: IsBad = isBadStapleCondition) =>
  transitionEvents(previous, produced, isBad).map((e) => `${e.type} ${e.reason}`);

describe('Events from condition transitions', () => {
  it.each([
    [
      "a first look that finds all well: one Normal Event, Ready's",
      undefined,
      now(['Ready', 'True', 'Stapled'], ['Fresh', 'True', 'Refreshed'], ['Revoked', 'False', 'Good']),
      ['Normal Stapled'],
    ],
    [
      'a first look that finds a problem: Warnings for the bad ones',
      undefined,
      now(['Ready', 'False', 'StapleExpired'], ['Fresh', 'False', 'TryLater']),
      ['Warning StapleExpired', 'Warning TryLater'],
    ],
    [
      'nothing changed: nothing said',
      prev(['Ready', 'True', 'Stapled'], ['Fresh', 'True', 'Refreshed']),
      now(['Ready', 'True', 'Stapled'], ['Fresh', 'True', 'Refreshed']),
      [],
    ],
    ['only the message changed: nothing said', prev(['Fresh', 'False', 'TryLater']), now(['Fresh', 'False', 'TryLater']), []],
    [
      'a new failure reason while False: said',
      prev(['Fresh', 'False', 'TryLater']),
      now(['Fresh', 'False', 'Truncated']),
      ['Warning Truncated'],
    ],
    ['recovery: Normal', prev(['Fresh', 'False', 'TryLater']), now(['Fresh', 'True', 'Refreshed']), ['Normal Refreshed']],
    [
      'a True-is-bad type (Revoked) turning True: Warning',
      prev(['Revoked', 'False', 'Good']),
      now(['Revoked', 'True', 'KeyCompromise']),
      ['Warning KeyCompromise'],
    ],
    [
      'a first look at a True-is-bad type turning True: Warning',
      undefined,
      now(['SignerCertificateExpiring', 'True', 'SignerExpiresSoon']),
      ['Warning SignerExpiresSoon'],
    ],
    [
      'a bad Ready repeating the reason of a bad condition said now: said once, by that condition',
      prev(['Ready', 'True', 'Stapled'], ['Fresh', 'True', 'Refreshed']),
      now(['Ready', 'False', 'ResponderSaysUnknown'], ['Fresh', 'False', 'ResponderSaysUnknown']),
      ['Warning ResponderSaysUnknown'],
    ],
    [
      'a bad Ready taking the reason of a condition already bad: Ready says it',
      prev(['Ready', 'False', 'StapleExpired'], ['Fresh', 'False', 'TryLater']),
      now(['Ready', 'False', 'TryLater'], ['Fresh', 'False', 'TryLater']),
      ['Warning TryLater'],
    ],
    [
      'a good Ready sharing its reason with another good condition: both said',
      prev(['Ready', 'False', 'AwaitingStaple'], ['MustStapleSatisfied', 'False', 'MissingStaple']),
      now(['Ready', 'True', 'Stapled'], ['MustStapleSatisfied', 'True', 'Stapled']),
      ['Normal Stapled', 'Normal Stapled'],
    ],
    ['Ready Unknown (paused): said, Normal', prev(['Ready', 'True', 'Stapled']), now(['Ready', 'Unknown', 'Paused']), ['Normal Paused']],
  ] as const)('%s', (_name, previous, produced, expected) => {
    expect(said(previous, [...produced])).toEqual(expected);
  });

  it('pools: a condition not judged this time (Unknown) is not news; Ready says why', () => {
    const p = prev(['Ready', 'True', 'Serving'], ['Fresh', 'True', 'ResponsesFresh'], ['Replicated', 'True', 'ReplicasCurrent']);
    const n = now(['Ready', 'False', 'IssuerNotFound'], ['Fresh', 'Unknown', 'NotEvaluated'], ['Replicated', 'Unknown', 'NotEvaluated']);
    expect(said(p, n, isBadPool)).toEqual(['Warning IssuerNotFound']);
  });

  it("pools: a gate going bad and Ready with it: one Warning, the gate's", () => {
    const p = prev(['Ready', 'True', 'Serving'], ['Fresh', 'True', 'ResponsesFresh']);
    const n = now(['Fresh', 'False', 'ResponsesStale'], ['Ready', 'False', 'ResponsesStale']);
    expect(said(p, n, isBadPool)).toEqual(['Warning ResponsesStale']);
  });

  it('the note names the condition, its status and its message', () => {
    expect(transitionEvents(undefined, now(['Ready', 'False', 'KeyMismatch']), isBadStapleCondition)).toEqual([
      { type: 'Warning', reason: 'KeyMismatch', note: 'Ready=False: Ready says KeyMismatch' },
    ]);
  });
});
