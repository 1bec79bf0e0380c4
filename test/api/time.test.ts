import { describe, expect, it } from 'vitest';
import { formatDateTime, isDateTime, parseDateTime } from '../../src/api/index.js';

describe('date-time, as the apiserver accepts it', () => {
  it.each(['2025-06-01T12:00:00Z', '2025-06-01t12:00:00z', '2025-06-01T12:00:00.123456+02:00', '2024-02-29T00:00:00Z'])('accepts %s', (s) =>
    expect(isDateTime(s)).toBe(true),
  );
  it.each([
    '2025-06-01T12:00:00',
    '2025-06-01 12:00:00Z',
    '2025-06-01T12:00:00+0200',
    '2025-06-01T12:00Z',
    '2025-02-30T12:00:00Z',
    '2025-02-29T00:00:00Z',
    '2025-06-01T24:00:00Z',
    'yesterday',
  ])('refuses %s', (s) => expect(isDateTime(s)).toBe(false));

  it('parses either case to the same instant and formats as metav1.Time does', () => {
    expect(parseDateTime('2025-06-01t12:00:00z').getTime()).toBe(Date.UTC(2025, 5, 1, 12));
    expect(formatDateTime(new Date(Date.UTC(2025, 5, 1, 12, 0, 0, 456)))).toBe('2025-06-01T12:00:00Z');
    expect(() => parseDateTime('soon')).toThrow();
  });
});
