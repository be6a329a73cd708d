import { describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import { hourlyMeansBySensor, insertReadings, MIGRATIONS_DIR, migrate, type ReadingRow } from './index.ts';
import { storeBackends } from './test-support/backends.ts';

const servers = useServers({ clickhouse: true });

const backends = storeBackends(servers, 'hourly_means');

const HOUR = 3_600_000;
const START = Date.UTC(2026, 2, 1, 0);
const row = (sensorId: string, metric: string, ts: number, value: number): ReadingRow => ({
  sensorId,
  metric,
  ts,
  value,
  receivedAt: ts,
  source: 'test',
});

describe.each(backends)('hourlyMeansBySensor on $name', ({ open }) => {
  test('means per sensor, metric and hour from the rollup, within [from, to) and the filters', async () => {
    const store = await open();
    try {
      await migrate(store, MIGRATIONS_DIR);
      await insertReadings(store)([
        row('a', 'pm25', START + 60_000, 10),
        row('a', 'pm25', START + 120_000, 20), // hour 0: mean 15
        row('a', 'pm25', START + 2 * HOUR + 5, 7), // hour 2 (hour 1 has none)
        row('a', 'no2', START + 10, 40),
        row('b', 'pm25', START + 30, 3),
        row('b', 'temp', START + 30, 21), // not asked for
        row('a', 'pm25', START + 3 * HOUR, 99), // at `to`: excluded
        row('a', 'pm25', START - 1, 99), // before `from`'s hour: excluded
      ]);
      const read = hourlyMeansBySensor(store);
      const all = await read({ metrics: ['pm25', 'no2'], from: START + 1_000, to: START + 3 * HOUR });
      expect(
        all.map((r) => {
          const order = r.hours.map((_, i) => i).sort((x, y) => (r.hours[x] ?? 0) - (r.hours[y] ?? 0));
          return [r.sensorId, r.metric, order.map((i) => r.hours[i]), order.map((i) => r.means[i])];
        }),
      ).toEqual([
        ['a', 'no2', [START], [40]],
        ['a', 'pm25', [START, START + 2 * HOUR], [15, 7]],
        ['b', 'pm25', [START], [3]],
      ]);
      const one = await read({ metrics: ['pm25'], sensorIds: ['b'], from: START, to: START + HOUR });
      expect(one).toEqual([{ sensorId: 'b', metric: 'pm25', hours: [START], means: [3] }]);
    } finally {
      await store.close();
    }
  });

  test('bad parameters are refused before any query', async () => {
    const store = await open();
    try {
      await expect(hourlyMeansBySensor(store)({ metrics: [], from: 0, to: 1 })).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
      });
    } finally {
      await store.close();
    }
  });
});
