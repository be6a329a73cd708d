import { describe, expect, test } from 'bun:test';
import { nextId, prevId, splitId } from './entries.ts';
import { frames, parseClientMessage } from './messages.ts';
import { inBox, selectSensors } from './sensor-directory.ts';

describe('parseClientMessage', () => {
  test('accepts each message type', () => {
    for (const message of [
      { type: 'ping' },
      { type: 'auth', token: 'a.b.c' },
      { type: 'unsubscribe', id: 's1' },
      { type: 'subscribe', id: 's1', channel: 'readings', filter: { bbox: [1, 2, 3, 4] }, since: '17-3' },
    ])
      expect(parseClientMessage(message)).toEqual(message as never);
  });

  test('refuses non-objects with BAD_REQUEST and bad shapes with VALIDATION_FAILED and the path', () => {
    for (const raw of ['{oops', 42, null, [1], new Uint8Array([1])])
      expect(() => parseClientMessage(raw)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(() => parseClientMessage({ type: 'subscribe', id: '', channel: 'readings' })).toThrow(
      expect.objectContaining({
        code: 'VALIDATION_FAILED',
        details: [expect.objectContaining({ path: '/id' })],
      }),
    );
  });

  test('frames are JSON', () => {
    const prefix = frames.eventPrefix('a"b', 'readings');
    expect(JSON.parse(frames.event(prefix, '1-2', '{"x":1}'))).toEqual({
      type: 'event',
      id: 'a"b',
      channel: 'readings',
      cursor: '1-2',
      data: { x: 1 },
    });
    expect(JSON.parse(frames.error('GONE', 'm', 'i', { since: '1-0' }))).toEqual({
      type: 'error',
      id: 'i',
      code: 'GONE',
      message: 'm',
      details: { since: '1-0' },
    });
  });
});

describe('stream ids', () => {
  test('next and previous, across a millisecond and at the ends', () => {
    expect(nextId('5-1')).toBe('5-2');
    expect(nextId('5-18446744073709551615')).toBe('6-0');
    expect(prevId('5-1')).toBe('5-0');
    expect(prevId('5-0')).toBe('4-18446744073709551615');
    expect(prevId('0-0')).toBe('0-0');
    expect(splitId('4-18446744073709551615')).toEqual([4, Number.MAX_SAFE_INTEGER]);
    expect(splitId('1732280000000-7')).toEqual([1_732_280_000_000, 7]);
  });
});

describe('sensor selection', () => {
  const places = [
    { id: 'a', tags: ['outdoor', 'traffic'], latitude: 10, longitude: 179 },
    { id: 'b', tags: ['outdoor'], latitude: 10, longitude: -179 },
    { id: 'c', tags: [], latitude: 10, longitude: 0 },
  ];
  test('bbox edges are inside; minLon > maxLon wraps the antimeridian', () => {
    expect(inBox([0, 0, 10, 10], 10, 10)).toBe(true);
    expect(inBox([0, 0, 10, 10], 10.01, 10)).toBe(false);
    expect(inBox([170, 0, -170, 20], 179, 10)).toBe(true);
    expect(inBox([170, 0, -170, 20], -175, 10)).toBe(true);
    expect(inBox([170, 0, -170, 20], 0, 10)).toBe(false);
  });
  test('tags need all; fields combine with AND', () => {
    expect([...selectSensors(places, { tags: ['outdoor'] })]).toEqual(['a', 'b']);
    expect([...selectSensors(places, { tags: ['outdoor', 'traffic'] })]).toEqual(['a']);
    expect([
      ...selectSensors(places, { tags: ['outdoor'], bbox: [170, 0, -170, 20], sensorIds: ['b', 'c'] }),
    ]).toEqual(['b']);
  });
});
