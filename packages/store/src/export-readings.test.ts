import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useServers } from '@sensormesh/testkit';
import {
  countExportRows,
  countWideRows,
  type ExportQuery,
  engineKnowsTimeZone,
  insertReadings,
  MIGRATIONS_DIR,
  migrate,
  openStore,
  type ReadingRow,
  type Store,
  StoreError,
  sql,
  streamExport,
} from './index.ts';

const servers = useServers({ clickhouse: true });
const scratch: string[] = [];
afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

const backends = [
  {
    name: 'clickhouse-server',
    open: () => openStore({ clickhouseUrl: servers.clickhouse.url, database: `export_${process.pid}` }),
  },
  {
    name: 'chdb',
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sensormesh-chdb-export-'));
      scratch.push(dir);
      return openStore({ chdbPath: dir });
    },
  },
] as const;

const START = Date.UTC(2024, 2, 30, 23, 0, 0, 7); // spans the EU switch to summer time (31 March, 01:00 UTC)
const rows: ReadingRow[] = [];
for (let step = 0; step < 6; step++) {
  for (const sensorId of ['b-2', 'a-1']) {
    for (const metric of ['pm25', 'temp']) {
      if (sensorId === 'b-2' && metric === 'temp' && step === 2) continue; // a hole for the wide layout
      rows.push({
        sensorId,
        metric,
        ts: START + step * 3_600_000,
        value: step + (metric === 'temp' ? 0.5 : 0.25),
        receivedAt: START + step * 3_600_000 + 999,
        source: 'test',
      });
    }
  }
}

async function text(chunks: AsyncIterable<{ bytes: Uint8Array }>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(Buffer.from(chunk.bytes));
  return Buffer.concat(parts).toString('utf8');
}

for (const backend of backends) {
  describe(`export queries on ${backend.name}`, () => {
    let store: Store;
    afterAll(async () => {
      await store?.close();
    });

    test('streams long rows in key order with ISO times in the asked zone', async () => {
      store = await backend.open();
      await migrate(store, MIGRATIONS_DIR);
      await insertReadings(store)(rows);
      const query: ExportQuery = {
        from: START,
        to: START + 6 * 3_600_000,
        sensorIds: ['a-1'],
        metrics: ['pm25'],
        timeZone: 'Europe/Berlin',
        layout: 'long',
        columns: ['sensor_id', 'metric', 'ts', 'value', 'ts_iso'],
      };
      expect(await countExportRows(store)(query)).toBe(6);
      const csv = await text(streamExport(store)(query, 'CSVWithNames'));
      const lines = csv.trim().split('\n');
      expect(lines[0]).toBe('"sensor_id","metric","ts","value","ts_iso"');
      expect(lines.length).toBe(7);
      // 23:00 UTC is midnight in Berlin (+01:00); from 01:00 UTC on 31 March, Berlin is +02:00.
      expect(lines[1]).toBe(`"a-1","pm25",${START},0.25,"2024-03-31T00:00:00.007+01:00"`);
      expect(lines[3]).toBe(`"a-1","pm25",${START + 2 * 3_600_000},2.25,"2024-03-31T03:00:00.007+02:00"`);
    });

    test('NDJSON carries numbers as numbers; negative offsets render with a minus', async () => {
      const ndjson = await text(
        streamExport(store)(
          {
            from: START,
            to: START + 3_600_000,
            timeZone: 'America/St_Johns',
            layout: 'long',
            columns: ['sensor_id', 'ts', 'value', 'received_at_iso'],
          },
          'JSONEachRow',
        ),
      );
      const parsed = ndjson
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(parsed).toEqual([
        { sensor_id: 'a-1', ts: START, value: 0.25, received_at_iso: '2024-03-30T20:30:01.006-02:30' },
        { sensor_id: 'a-1', ts: START, value: 0.5, received_at_iso: '2024-03-30T20:30:01.006-02:30' },
        { sensor_id: 'b-2', ts: START, value: 0.25, received_at_iso: '2024-03-30T20:30:01.006-02:30' },
        { sensor_id: 'b-2', ts: START, value: 0.5, received_at_iso: '2024-03-30T20:30:01.006-02:30' },
      ]);
    });

    test('the wide layout has a column per metric and leaves holes empty', async () => {
      const base = {
        from: START,
        to: START + 6 * 3_600_000,
        sensorIds: ['b-2'],
        timeZone: 'UTC',
        layout: 'wide' as const,
        columns: ['sensor_id', 'ts'] as const,
        metrics: ['temp', 'pm25'],
      };
      expect(await countWideRows(store)(base)).toBe(6);
      const json = await text(streamExport(store)({ ...base, missing: 'null' }, 'JSONEachRow'));
      const third = JSON.parse(json.trim().split('\n')[2] ?? '{}');
      expect(third).toEqual({ sensor_id: 'b-2', ts: START + 2 * 3_600_000, temp: null, pm25: 2.25 });
      const csv = await text(streamExport(store)({ ...base, missing: 'empty' }, 'CSVWithNames'));
      expect(csv.trim().split('\n')[3]).toBe(`"b-2",${START + 2 * 3_600_000},"","2.25"`);
    });

    test('tags select sensors through the registry; an unknown zone is refused by the engine check', async () => {
      await store.command(sql`INSERT INTO sensors (id, name, kind, manufacturer, model, latitude, longitude,
        site, tags, metrics, status, created_at, updated_at, created_by, version)
        VALUES ('b-2', 'b', 'aq', 'm', 'x', 0, 0, 's', ['roof', 'north'], ['pm25'], 'active', 0, 0, 'test', 1)`);
      const count = await countExportRows(store)({ from: START, to: START + 6 * 3_600_000, tags: ['north'] });
      expect(count).toBe(11);
      expect(await engineKnowsTimeZone(store)('Asia/Kolkata')).toBe(true);
      expect(await engineKnowsTimeZone(store)("Mars/Olympus'--")).toBe(false);
    });

    test('a result of many chunks is one output: a single CSV header, one readable Parquet file', async () => {
      const numbers = sql`SELECT number AS n, toString(number * 3) AS s FROM system.numbers LIMIT 300000`;
      let chunks = 0;
      let csv = '';
      const decoder = new TextDecoder();
      for await (const chunk of store.stream(numbers, 'CSVWithNames')) {
        chunks++;
        csv += decoder.decode(chunk.bytes, { stream: true });
      }
      const lines = csv.trimEnd().split('\n');
      expect(chunks).toBeGreaterThan(1);
      expect(lines.length).toBe(300_001);
      expect(lines.filter((line) => line === '"n","s"').length).toBe(1);
      expect(lines[300_000]).toBe('299999,"899997"');
      const dir = await mkdtemp(join(tmpdir(), 'sensormesh-parquet-'));
      scratch.push(dir);
      const path = join(dir, 'numbers.parquet');
      if (backend.name === 'chdb') {
        await expect(text(store.stream(numbers, 'Parquet'))).rejects.toThrow(/writeFile/);
        await store.writeFile(numbers, 'Parquet', path);
        const [back] = await store.query<{ rows: number; total: number }>(
          sql`SELECT count() AS rows, sum(n) AS total FROM file(${path}, 'Parquet')`,
        );
        expect(back).toEqual({ rows: 300_000, total: 44_999_850_000 });
      } else {
        // 18.16 has no Parquet; the default writeFile writes the stream.
        await store.writeFile(numbers, 'CSVWithNames', path);
        expect(await Bun.file(path).text()).toBe(csv);
        await expect(store.writeFile(numbers, 'CSVWithNames', path)).rejects.toThrow(/EEXIST/);
      }
    });

    test('a failing query rejects the stream with a StoreError; unknown formats never reach the engine', async () => {
      const failing = store.stream(sql`SELECT throwIf(number = 3) FROM system.numbers LIMIT 10`, 'CSV');
      await expect(text(failing)).rejects.toBeInstanceOf(StoreError);
      await expect(text(store.stream(sql`SELECT 1`, 'CSV; DROP TABLE readings_raw'))).rejects.toThrow(
        /unsupported stream format/,
      );
      expect(await countExportRows(store)({ from: 0, to: 2 ** 42 })).toBe(rows.length);
    });
  });
}
