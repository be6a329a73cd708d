import { sql } from '../sql.ts';
import type { Store } from '../store.ts';

/** Stored size of one table: rows and bytes in its active parts (before merges collapse versions). */
export interface TableStatsRow {
  table: string;
  engine: string;
  rows: number;
  bytes: number;
  parts: number;
}

interface TableStatsRecord {
  table: string;
  engine: string;
  rows: number;
  bytes: number;
  parts: number;
}

/**
 * Every table of the store's database with its row count and size on disk, from system.parts'
 * active parts (the same on ClickHouse 18.16 and chDB). Tables without parts report zeros; views
 * store nothing themselves and are left out.
 */
export function tableStats(store: Store) {
  return async function tableStats(): Promise<TableStatsRow[]> {
    const rows = await store.query<TableStatsRecord>(sql`
      SELECT t.name AS table, t.engine AS engine,
        toUInt64(ifNull(p.rows, 0)) AS rows, toUInt64(ifNull(p.bytes, 0)) AS bytes, toUInt64(ifNull(p.parts, 0)) AS parts
      FROM (SELECT name, engine FROM system.tables WHERE database = ${store.database} AND engine NOT LIKE '%View') AS t
      LEFT JOIN (
        SELECT table AS name, sum(rows) AS rows, sum(bytes_on_disk) AS bytes, count() AS parts
        FROM system.parts WHERE database = ${store.database} AND active GROUP BY table
      ) AS p USING name
      ORDER BY table`);
    return rows.map((row) => ({
      table: row.table,
      engine: row.engine,
      rows: Number(row.rows),
      bytes: Number(row.bytes),
      parts: Number(row.parts),
    }));
  };
}
