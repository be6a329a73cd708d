import { describe, expect, test } from 'bun:test';
import { type FaultTruth, faultInjector, parseDuration, parseFaults } from './faults.ts';
import type { DeviceReading } from './replay.ts';

const T0 = Date.UTC(2030, 0, 1);
const SENSORS = ['a', 'b'];

/** 100 s of readings, one per second per sensor, pm25 = 10 + s and temp = 20 (b's pm25 missing at s = 50). */
function readings(): DeviceReading[] {
  const out: DeviceReading[] = [];
  for (let s = 0; s < 100; s++) {
    for (const sensorId of SENSORS) {
      const metrics: Record<string, number> = { pm25: 10 + s, temp: 20 };
      if (sensorId === 'b' && s === 50) delete metrics.pm25;
      out.push({ sensorId, ts: T0 + s * 1_000, metrics });
    }
  }
  return out;
}

/** Runs the readings through the faults; returns what went out, keyed by sensor@ts, and the truth. */
function inject(spec: string) {
  const truth: FaultTruth[] = [];
  const injector = faultInjector(parseFaults(spec), (line) => truth.push(line));
  const input = readings();
  const sent = new Map<string, Record<string, number>>();
  for (const reading of input) {
    const out = injector.apply(reading);
    if (out) sent.set(`${out.sensorId}@${out.ts}`, out.metrics);
  }
  injector.close();
  // Every reading the fault did not target must go out untouched.
  const changed = input.filter(
    (r) => JSON.stringify(sent.get(`${r.sensorId}@${r.ts}`)) !== JSON.stringify(r.metrics),
  );
  return { sent, truth, changed, input };
}

const at = (s: number) => T0 + s * 1_000;

describe('fault injection', () => {
  test('stuck holds the last value before the window, only for that sensor and metric, only in the window', () => {
    const { sent, truth, changed } = inject('stuck:a/pm25@20s+30s');
    expect(changed.map((r) => r.ts)).toEqual(Array.from({ length: 30 }, (_, i) => at(20 + i)));
    expect(changed.every((r) => r.sensorId === 'a')).toBe(true);
    for (let s = 20; s < 50; s++) expect(sent.get(`a@${at(s)}`)).toEqual({ pm25: 29, temp: 20 });
    expect(sent.get(`a@${at(50)}`)?.pm25).toBe(60);
    expect(truth).toEqual([
      expect.objectContaining({
        kind: 'stuck',
        sensorId: 'a',
        metric: 'pm25',
        from: at(20),
        to: at(50),
        affected: 30,
      }),
    ]);
    expect(truth[0]).toMatchObject({ firstTs: at(20), lastTs: at(49), fromIso: '2030-01-01T00:00:20.000Z' });
  });

  test('a single spike hits one reading; one with a window hits every reading in it', () => {
    const single = inject('spike:b/temp@10s=15');
    expect(single.changed).toEqual([{ sensorId: 'b', ts: at(10), metrics: { pm25: 20, temp: 20 } }]);
    expect(single.sent.get(`b@${at(10)}`)).toEqual({ pm25: 20, temp: 35 });
    expect(single.truth).toEqual([
      expect.objectContaining({
        kind: 'spike',
        metric: 'temp',
        from: at(10),
        to: at(10) + 1,
        magnitude: 15,
        affected: 1,
      }),
    ]);
    const burst = inject('spike:b/pm25@45s+10s');
    // b has no pm25 at 50 s: an NA hour stays missing and is not counted.
    expect(burst.changed.map((r) => r.ts)).toEqual([45, 46, 47, 48, 49, 51, 52, 53, 54].map(at));
    expect(burst.sent.get(`b@${at(45)}`)?.pm25).toBe(55 + 300); // default: a fifth of 0..1500 µg/m³
    expect(burst.truth[0]).toMatchObject({ affected: 9, magnitude: 300, firstTs: at(45), lastTs: at(54) });
  });

  test('drift ramps linearly from 0 to the magnitude across the window, clamped to the plausible range', () => {
    const { sent, changed, truth } = inject('drift:a/temp@0s+40s=8');
    expect(changed.map((r) => r.ts)).toEqual(Array.from({ length: 39 }, (_, i) => at(i + 1)));
    expect(sent.get(`a@${at(0)}`)?.temp).toBe(20);
    expect(sent.get(`a@${at(20)}`)?.temp).toBe(24);
    expect(sent.get(`a@${at(39)}`)?.temp).toBeCloseTo(27.8, 9);
    expect(sent.get(`a@${at(40)}`)?.temp).toBe(20);
    expect(truth[0]).toMatchObject({ kind: 'drift', from: at(0), to: at(40), magnitude: 8, affected: 40 });
    const clamped = inject('drift:a/temp@0s+10s=500');
    expect(clamped.sent.get(`a@${at(9)}`)?.temp).toBe(70); // the catalogue's ceiling: it still passes ingest
  });

  test('dropout silences a device, or one of its metrics, for exactly the window', () => {
    const device = inject('dropout:a@1m+10s');
    expect(device.input.length - device.sent.size).toBe(10);
    for (let s = 60; s < 70; s++) expect(device.sent.has(`a@${at(s)}`)).toBe(false);
    expect(device.sent.has(`a@${at(70)}`)).toBe(true);
    expect(device.changed.map((r) => `${r.sensorId}@${r.ts}`)).toEqual(
      Array.from({ length: 10 }, (_, i) => `a@${at(60 + i)}`),
    );
    expect(device.truth[0]).toMatchObject({
      kind: 'dropout',
      metric: null,
      from: at(60),
      to: at(70),
      affected: 10,
    });
    const metric = inject('dropout:b/pm25@48s+4s');
    expect(metric.sent.get(`b@${at(49)}`)).toEqual({ temp: 20 });
    expect(metric.truth[0]).toMatchObject({ metric: 'pm25', affected: 3 }); // 48, 49, 51 (50 was NA)
  });

  test('several faults at once each report once, and an unreached window reports nothing affected', () => {
    const { truth } = inject('stuck:a/pm25@5s+5s, dropout:b@2m+1m, spike:a/temp@10m');
    expect(truth.map((t) => [t.kind, t.affected])).toEqual([
      ['stuck', 5],
      ['dropout', 0],
      ['spike', 0],
    ]);
  });
});

describe('parseFaults', () => {
  test('reads kind, target, window and magnitude with defaults', () => {
    expect(parseFaults('spike:aq-beijing-dongsi/pm25@30s')).toEqual([
      {
        kind: 'spike',
        sensorId: 'aq-beijing-dongsi',
        metric: 'pm25',
        startMs: 30_000,
        durationMs: 0,
        spec: 'spike:aq-beijing-dongsi/pm25@30s',
      },
    ]);
    expect(parseFaults('drift:x.1/temp+1h=-3')[0]).toMatchObject({
      startMs: 0,
      durationMs: 3_600_000,
      magnitude: -3,
    });
    expect(parseFaults('dropout:x')[0]).toMatchObject({ durationMs: 300_000 });
    expect(parseDuration('250ms') + parseDuration('2') + parseDuration('1.5m')).toBe(250 + 2_000 + 90_000);
  });

  test('names the bad entry', () => {
    expect(() => parseFaults('melt:a/pm25')).toThrow('fault "melt:a/pm25"');
    expect(() => parseFaults('stuck:a')).toThrow('stuck needs a /metric');
    expect(() => parseFaults('stuck:a/pm25=3')).toThrow('stuck takes no =magnitude');
    expect(() => parseFaults('spike:a/pm25@soon')).toThrow('"soon" is not a duration');
    expect(() => faultInjector(parseFaults('spike:a/vibration'), () => {})).toThrow(
      'give the fault a =magnitude',
    );
  });
});
