import { once } from 'node:events';
import { Readable } from 'node:stream';
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { ident, type Sql, sql } from '../sql.ts';
import { checkStreamFormat, completeStore, parseJsonEachRow, type Store, storeError } from '../store.ts';

/** Options for the ClickHouse server backend. */
export interface ClickHouseServerOptions {
  url: string;
  database: string;
  username?: string;
  password?: string;
  requestTimeoutMs?: number;
}

// Same output on every server version: 18.16 quotes 64-bit integers in JSON by default. The
// writer's dedup lookup carries one key per reading of a batch, more than the default 256 KiB.
// An insert into readings_raw feeds several materialized views: in parallel it takes the same CPU
// and less time (writer batches of 50,000 readings: 30-41k readings/s → 41-48k on the 2-core box).
const SETTINGS = {
  output_format_json_quote_64bit_integers: 0,
  max_query_size: '4194304',
  parallel_view_processing: 1,
} as const;

/** Opens a Store on a ClickHouse server over HTTP, creating its database when missing. */
export async function openClickHouseServerStore(options: ClickHouseServerOptions): Promise<Store> {
  const common = {
    url: options.url,
    username: options.username ?? 'default',
    password: options.password ?? '',
    request_timeout: options.requestTimeoutMs ?? 60_000,
    clickhouse_settings: SETTINGS,
    // Failures are thrown as StoreError and logged by the caller; the client's console logging would duplicate them.
    log: { level: ClickHouseLogLevel.OFF },
  };
  const bootstrap = createClient(common);
  try {
    await bootstrap.command({ query: sql`CREATE DATABASE IF NOT EXISTS ${ident(options.database)}`.text });
  } catch (error) {
    throw storeError('clickhouse-server', 'CREATE DATABASE', error);
  } finally {
    await bootstrap.close();
  }
  const client: ClickHouseClient = createClient({ ...common, database: options.database });
  return completeStore({
    backend: 'clickhouse-server',
    database: options.database,

    async query<Row>(statement: Sql): Promise<Row[]> {
      try {
        const result = await client.query({ query: statement.text, format: 'JSONEachRow' });
        return parseJsonEachRow<Row>(await result.text());
      } catch (error) {
        throw storeError('clickhouse-server', statement.text, error);
      }
    },

    async command(statement: Sql) {
      try {
        await client.command({ query: statement.text });
      } catch (error) {
        throw storeError('clickhouse-server', statement.text, error);
      }
    },

    async *stream(statement: Sql, format: string, { signal } = {}) {
      checkStreamFormat(format);
      let body: AsyncIterable<Uint8Array>;
      try {
        // exec hands back the raw HTTP body, whatever the format; the Readable pauses while the
        // caller is not reading, so TCP flow control holds the server back.
        const result = await client.exec({
          query: `${statement.text}\nFORMAT ${format}`,
          ...(signal ? { abort_signal: signal } : {}),
        });
        body = result.stream;
      } catch (error) {
        throw storeError('clickhouse-server', statement.text, error);
      }
      const reader = body[Symbol.asyncIterator]();
      try {
        for (;;) {
          const next = await reader.next().catch((error: unknown) => {
            throw storeError('clickhouse-server', statement.text, error);
          });
          if (next.done) return;
          yield { bytes: next.value };
        }
      } finally {
        await reader.return?.();
      }
    },

    async insertTsv(table: string, columns: readonly string[], body: string) {
      if (body.length === 0) return;
      try {
        // Raw TSV must go as a byte stream, not object mode (DESIGN.md, Pitfalls).
        await client.insert({
          table: ident(table).text,
          columns: columns.map((column) => ident(column).text) as [string, ...string[]],
          values: Readable.from([Buffer.from(body)], { objectMode: false }),
          format: 'TabSeparated',
        });
      } catch (error) {
        throw storeError('clickhouse-server', `INSERT INTO ${table}`, error);
      }
    },

    async insertRowBinary(table: string, columns: readonly string[], body: Uint8Array) {
      if (body.length === 0) return;
      const query = `INSERT INTO ${ident(table).text} (${columns.map((c) => ident(c).text).join(', ')}) FORMAT RowBinary`;
      try {
        // The client's insert() takes text and JSON formats only; exec sends any body as is.
        const result = await client.exec({
          query,
          values: Readable.from([Buffer.from(body.buffer, body.byteOffset, body.length)], {
            objectMode: false,
          }),
        });
        result.stream.resume();
        await once(result.stream, 'end');
      } catch (error) {
        throw storeError('clickhouse-server', query, error);
      }
    },

    async ping() {
      const result = await client.ping();
      return result.success;
    },

    async close() {
      await client.close();
    },
  });
}
