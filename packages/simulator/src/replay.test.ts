import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Clock, manualClock } from './clock.ts';
import { type ReplayStep, replay } from './replay.ts';

const DATA = new URL('../../../../shared/data/beijing/train', import.meta.url).pathname;
const START = Date.UTC(2030, 0, 1, 12);

/** Takes `count` steps, recording the clock at each yield to prove nothing is stamped ahead of it. */
async function take(steps: AsyncGenerator<ReplayStep>, clock: Clock, count: number) {
  const taken: Array<ReplayStep & { clockAt: number }> = [];
  for await (const step of steps) {
    taken.push({ ...step, clockAt: clock.now() });
    if (taken.length === count) break;
  }
  return taken;
}

describe('replay re-timing on the real data', () => {
  for (const speed of [3_600, 1_200, 720]) {
    test(`speed ${speed}: one data hour per ${3_600 / speed} s, increasing, never ahead of the clock`, async () => {
      const clock = manualClock(START);
      const steps = await take(replay({ dir: DATA, speed, clock }), clock, 48);
      expect(steps[0]?.ts).toBe(START); // the newest replayed hour lands at "now"
      for (const [i, step] of steps.entries()) {
        expect(step.ts).toBe(START + (i * 3_600_000) / speed);
        expect(step.ts).toBeLessThanOrEqual(step.clockAt);
        expect(step.dataTs).toBe(Date.UTC(2013, 1, 28, 16) + i * 3_600_000);
        expect(step.readings).toHaveLength(12);
        for (const reading of step.readings) expect(reading.ts).toBe(step.ts);
      }
      expect(new Set(steps[0]?.readings.map((r) => r.sensorId))).toContain('aq-beijing-wanshouxigong');
    });
  }

  test('--from skips to a data hour; stations filter limits the devices', async () => {
    const clock = manualClock(START);
    const [step] = await take(
      replay({
        dir: DATA,
        speed: 3_600,
        clock,
        fromDataTs: Date.UTC(2015, 0, 1),
        stations: ['dongsi', 'tiantan'],
      }),
      clock,
      1,
    );
    expect(step?.dataTs).toBe(Date.UTC(2015, 0, 1));
    expect(step?.readings.map((r) => r.sensorId).sort()).toEqual(['aq-beijing-dongsi', 'aq-beijing-tiantan']);
  });
});

describe('looping and gaps', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

  async function fixture(rows: Record<string, string[]>): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'replay-'));
    dirs.push(dir);
    const header = '"No","year","month","day","hour","PM2.5","TEMP","wd","station"';
    for (const [station, lines] of Object.entries(rows)) {
      const text = [header, ...lines.map((line, i) => `${i + 1},${line},"${station}"`)].join('\r\n');
      await Bun.write(join(dir, `PRSA_Data_${station}_x.csv.gz`), Bun.gzipSync(`${text}\r\n`));
    }
    return dir;
  }

  test('wraps around with timestamps still increasing; a missing hour or an all-NA row sends nothing', async () => {
    const dir = await fixture({
      Dongsi: ['2014,1,1,0,10,1,"N"', '2014,1,1,1,11,2,"E"', '2014,1,1,2,12,3,"S"'],
      Tiantan: ['2014,1,1,0,20,1,"N"', '2014,1,1,2,NA,NA,NA'],
    });
    const clock = manualClock(START);
    const steps = await take(replay({ dir, speed: 3_600, clock }), clock, 7);
    expect(steps.map((s) => s.ts - START)).toEqual([0, 1_000, 2_000, 3_000, 4_000, 5_000, 6_000]);
    expect(steps.map((s) => s.loop)).toEqual([0, 0, 0, 1, 1, 1, 2]);
    expect(steps.map((s) => s.readings.map((r) => r.sensorId))).toEqual([
      ['aq-beijing-dongsi', 'aq-beijing-tiantan'],
      ['aq-beijing-dongsi'],
      ['aq-beijing-dongsi'],
      ['aq-beijing-dongsi', 'aq-beijing-tiantan'],
      ['aq-beijing-dongsi'],
      ['aq-beijing-dongsi'],
      ['aq-beijing-dongsi', 'aq-beijing-tiantan'],
    ]);
    expect(steps[1]?.readings[0]?.metrics).toEqual({ pm25: 11, temp: 2, wind_dir: 90 });
  });

  test('stops at the end with loop: false, and at once when aborted', async () => {
    const dir = await fixture({ Dongsi: ['2014,1,1,0,10,1,"N"', '2014,1,1,1,11,2,"E"'] });
    const clock = manualClock(START);
    expect(await Array.fromAsync(replay({ dir, speed: 3_600, clock, loop: false }))).toHaveLength(2);
    const controller = new AbortController();
    controller.abort();
    expect(
      await Array.fromAsync(replay({ dir, speed: 3_600, clock, signal: controller.signal })),
    ).toHaveLength(0);
  });

  test('refuses a speed that would repeat timestamps', async () => {
    await expect(Array.fromAsync(replay({ dir: DATA, speed: 10_000_000 }))).rejects.toThrow('speed must be');
  });
});
