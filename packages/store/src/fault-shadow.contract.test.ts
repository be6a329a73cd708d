import { describe, expect, test } from 'bun:test';
import { useServers } from '@sensormesh/testkit';
import {
  type FaultShadowRow,
  faultShadowVerdicts,
  insertFaultShadowVerdicts,
  MIGRATIONS_DIR,
  migrate,
} from './index.ts';
import { storeBackends } from './test-support/backends.ts';

const servers = useServers({ clickhouse: true });
const backends = storeBackends(servers, 'fault_shadow_t');

const HOUR = 3_600_000;
const T = Date.UTC(2026, 0, 10, 12);
const verdict = (
  sensorId: string,
  ts: number,
  shadowKind: string,
  activeKind: string,
  changes: Partial<FaultShadowRow> = {},
): FaultShadowRow => ({
  id: `${changes.shadowVersion ?? 's1'}:${sensorId}:pm25:${ts}`,
  sensorId,
  metric: 'pm25',
  ts,
  shadowVersion: 's1',
  shadowKind,
  shadowScore: shadowKind ? 0.99 : 0.2,
  activeVersion: 'a1',
  activeKind,
  activeScore: activeKind ? 0.98 : 0.1,
  value: 700,
  expected: 40,
  streamId: '1-0',
  detectedAt: ts + HOUR,
  ...changes,
});

for (const backend of backends) {
  describe(`fault-shadow verdict queries (${backend.name})`, () => {
    test('one row per id (a re-score replaces), by shadow version and hour range, missing values as null', async () => {
      const store = await backend.open();
      try {
        await migrate(store, MIGRATIONS_DIR);
        await insertFaultShadowVerdicts(store)([
          verdict('a', T - HOUR, 'spike', 'spike'),
          verdict('a', T, 'spike', ''),
          verdict('b', T, '', 'drift', { value: null, expected: null }),
          verdict('b', T, 'stuck', 'stuck', { shadowVersion: 's2' }),
          verdict('c', T + 2 * HOUR, 'spike', 'spike'),
          // No fault model was active: the shadow's flag alone.
          verdict('d', T, 'dropout', '', { activeVersion: '', activeScore: null, value: null }),
        ]);
        // Hour T of `a` scored again later: the shadow no longer flags, the active does.
        await insertFaultShadowVerdicts(store)([
          verdict('a', T, '', 'spike', { detectedAt: T + 2 * HOUR, shadowScore: 0.5 }),
        ]);
        const rows = await faultShadowVerdicts(store)({
          shadowVersions: ['s1'],
          from: T - HOUR,
          to: T + 2 * HOUR,
          limit: 100,
        });
        expect(rows.map((r) => [r.sensorId, r.ts, r.shadowKind, r.activeKind])).toEqual([
          ['a', T - HOUR, 'spike', 'spike'],
          ['a', T, '', 'spike'],
          ['b', T, '', 'drift'],
          ['d', T, 'dropout', ''],
        ]);
        expect(rows[1]).toMatchObject({ shadowScore: 0.5, detectedAt: T + 2 * HOUR, activeVersion: 'a1' });
        expect(rows[2]).toMatchObject({ value: null, expected: null });
        expect(rows[3]).toMatchObject({ activeVersion: '', activeScore: null, value: null, expected: 40 });
        expect(rows[0]).toMatchObject({ value: 700, expected: 40, streamId: '1-0' });
        const both = await faultShadowVerdicts(store)({
          shadowVersions: ['s1', 's2'],
          from: T,
          to: T + HOUR,
          limit: 1,
        });
        expect(both).toHaveLength(1);
        await expect(
          faultShadowVerdicts(store)({ shadowVersions: [], from: 0, to: 1, limit: 1 }),
        ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
      } finally {
        await store.close();
      }
    });
  });
}
