import type { Reading } from '@sensormesh/bus';
import { ReadingRow } from '@sensormesh/store';
import { TypeCompiler } from '@sinclair/typebox/compiler';

const checkRow = TypeCompiler.Compile(ReadingRow);

/**
 * Flattens a reading into the store's long format: one row per metric, each carrying the stream
 * entry id ("<ms>-<seq>") so WebSocket clients can be replayed from ClickHouse in stream order.
 */
export function readingRows(reading: Reading, entryId?: string): ReadingRow[] {
  const dash = entryId ? entryId.indexOf('-') : -1;
  const entryMs = dash > 0 ? Number(entryId?.slice(0, dash)) : 0;
  const entrySeq = dash > 0 ? Number(entryId?.slice(dash + 1)) : 0;
  const rows: ReadingRow[] = [];
  for (const metric in reading.metrics) {
    rows.push({
      sensorId: reading.sensorId,
      metric,
      ts: reading.ts,
      value: reading.metrics[metric] as number,
      receivedAt: reading.receivedAt,
      source: reading.source,
      entryMs,
      entrySeq,
    });
  }
  return rows;
}

/** Why one of a reading's rows would be refused by the store. */
export interface RowProblem {
  metric: string;
  path: string;
  message: string;
}

/**
 * What the store's row schema refuses in these rows (empty when none), checked before the insert
 * so one bad reading fails alone instead of failing the whole batch's insert.
 */
export function rowProblems(rows: readonly ReadingRow[]): RowProblem[] {
  const problems: RowProblem[] = [];
  for (const row of rows) {
    // Typed rows can still break the schema's limits (lengths, an empty metric name).
    if (checkRow.Check(row as unknown)) continue;
    for (const error of checkRow.Errors(row))
      problems.push({ metric: row.metric, path: error.path, message: error.message });
  }
  return problems;
}
