import { ident, inList, join, type Sql, sql } from '../sql.ts';
import type { Store, StreamChunk } from '../store.ts';

/** Columns of a long export, as stored, plus ISO-8601 renderings of the two times. */
export const EXPORT_COLUMNS = [
  'sensor_id',
  'metric',
  'ts',
  'value',
  'received_at',
  'source',
  'ts_iso',
  'received_at_iso',
] as const;
export type ExportColumn = (typeof EXPORT_COLUMNS)[number];

/** Columns a wide export may carry besides one column per metric. */
export const WIDE_KEY_COLUMNS = ['sensor_id', 'ts', 'ts_iso'] as const;
export type WideKeyColumn = (typeof WIDE_KEY_COLUMNS)[number];

/** Which readings an export reads: a time range (epoch ms, `to` exclusive) and optional filters. */
export interface ExportSelection {
  from: number;
  to: number;
  sensorIds?: readonly string[];
  metrics?: readonly string[];
  /** Sensors carrying any of these tags (registry tags). */
  tags?: readonly string[];
}

/** A whole export query: what to read and how to lay it out. */
export type ExportQuery = ExportSelection & {
  /** IANA zone for the *_iso columns; validated by the caller (see `checkTimeZone`). */
  timeZone: string;
} & (
    | { layout: 'long'; columns: readonly ExportColumn[] }
    | {
        layout: 'wide';
        columns: readonly WideKeyColumn[];
        /** One column per metric, named after it; metric names are plain identifiers. */
        metrics: readonly string[];
        /** How a metric missing at a (sensor, ts) shows: SQL NULL, or '' (text) for CSV. */
        missing: 'null' | 'empty';
      }
  );

function conditions(selection: ExportSelection): Sql {
  const parts: Sql[] = [sql`ts >= ${selection.from}`, sql`ts < ${selection.to}`];
  if (selection.sensorIds?.length) parts.push(sql`sensor_id IN ${inList([...selection.sensorIds])}`);
  if (selection.metrics?.length) parts.push(sql`metric IN ${inList([...selection.metrics])}`);
  if (selection.tags?.length) {
    // Latest version of each sensor only: the filter runs outside the FINAL subquery.
    parts.push(sql`sensor_id IN (SELECT id FROM (SELECT id, tags FROM sensors FINAL)
      WHERE hasAny(tags, ${[...selection.tags]}))`);
  }
  return join(parts, ' AND ');
}

/**
 * An epoch-ms column as ISO-8601 local time in `timeZone` with its offset, e.g.
 * 2024-03-01T09:00:00.000+08:00. Written with functions Debian's 18.16 has: the offset is the local
 * wall time read back as UTC, minus the instant.
 */
export function isoTimeSql(column: 'ts' | 'received_at', timeZone: string): Sql {
  const c = ident(column);
  const seconds = sql`intDiv(${c}, 1000)`;
  const local = sql`toString(toDateTime(${seconds}, ${timeZone}))`;
  const offset = sql`toInt32(toUnixTimestamp(toDateTime(${local}, 'UTC')) - ${seconds})`;
  const two = (value: Sql) => sql`substring(toString(100 + ${value}), 2, 2)`;
  return sql`concat(replaceOne(${local}, ' ', 'T'), '.', substring(toString(1000 + ${c} % 1000), 2, 3),
    if(${offset} < 0, '-', '+'), ${two(sql`intDiv(abs(${offset}), 3600)`)}, ':',
    ${two(sql`intDiv(abs(${offset}) % 3600, 60)`)})`;
}

function longColumn(column: ExportColumn, timeZone: string): Sql {
  if (column === 'ts_iso') return sql`${isoTimeSql('ts', timeZone)} AS ts_iso`;
  if (column === 'received_at_iso') return sql`${isoTimeSql('received_at', timeZone)} AS received_at_iso`;
  return ident(column);
}

function wideMetric(metric: string, missing: 'null' | 'empty'): Sql {
  const present = sql`countIf(metric = ${metric}) > 0`;
  const value = sql`anyIf(value, metric = ${metric})`;
  // 18.16's anyIf over a Nullable still answers 0 when nothing matched, hence the explicit count.
  return missing === 'null'
    ? sql`if(${present}, toNullable(${value}), NULL) AS ${ident(metric)}`
    : sql`if(${present}, toString(${value}), '') AS ${ident(metric)}`;
}

/** The SELECT for an export, in primary-key order so the engine reads it as stored. */
export function exportReadingsSql(query: ExportQuery): Sql {
  const where = conditions(query);
  if (query.layout === 'long') {
    const columns = join(
      query.columns.map((column) => longColumn(column, query.timeZone)),
      ', ',
    );
    return sql`SELECT ${columns} FROM readings_raw WHERE ${where} ORDER BY sensor_id, metric, ts`;
  }
  const keys = query.columns.map((column) =>
    column === 'ts_iso' ? sql`${isoTimeSql('ts', query.timeZone)} AS ts_iso` : ident(column),
  );
  const metrics = query.metrics.map((metric) => wideMetric(metric, query.missing));
  return sql`SELECT ${join([...keys, ...metrics], ', ')} FROM readings_raw
    WHERE ${where} AND metric IN ${inList([...query.metrics])}
    GROUP BY sensor_id, ts ORDER BY sensor_id, ts`;
}

/** How many stored readings a selection covers (the size estimate of an export). */
export function countExportRows(store: Store) {
  return async function countExportRows(selection: ExportSelection): Promise<number> {
    const [row] = await store.query<{ rows: number }>(
      sql`SELECT count() AS rows FROM readings_raw WHERE ${conditions(selection)}`,
    );
    return Number(row?.rows ?? 0);
  };
}

/** Distinct (sensor, ts) pairs a wide export of the selection would have as rows. */
export function countWideRows(store: Store) {
  return async function countWideRows(selection: ExportSelection): Promise<number> {
    const [row] = await store.query<{ rows: number }>(
      sql`SELECT count() AS rows FROM (SELECT sensor_id, ts FROM readings_raw
        WHERE ${conditions(selection)} GROUP BY sensor_id, ts)`,
    );
    return Number(row?.rows ?? 0);
  };
}

/** True when the engine knows the IANA zone (its tz database can differ from the runtime's). */
export function engineKnowsTimeZone(store: Store) {
  return async function engineKnowsTimeZone(timeZone: string): Promise<boolean> {
    try {
      await store.query(sql`SELECT toString(toDateTime(0, ${timeZone})) AS t`);
      return true;
    } catch {
      return false;
    }
  };
}

/** Streams an export's rows in an engine output format (see `Store.stream`). */
export function streamExport(store: Store) {
  return function streamExport(
    query: ExportQuery,
    format: string,
    options: { signal?: AbortSignal } = {},
  ): AsyncIterable<StreamChunk> {
    return store.stream(exportReadingsSql(query), format, options);
  };
}
