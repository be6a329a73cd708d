import { mkdirSync } from 'node:fs';
import { Session } from 'chdb';
import { ident, type Sql, sql } from '../sql.ts';
import {
  checkStreamFormat,
  completeStore,
  parseJsonEachRow,
  type Store,
  StoreError,
  storeError,
} from '../store.ts';

// Exports read in key order for one reader: buffering parts ahead of the in-order merge buys them
// nothing and costs memory, as do Parquet row groups of a million rows (10M rows to Parquet,
// measured: peak RSS 717 MiB with the defaults, 341 MiB with these).
const EXPORT_ARGS = ['--read_in_order_use_buffering=0', '--output_format_parquet_row_group_size=100000'];

/** Options for the embedded chDB backend. */
export interface ChdbOptions {
  /** The data directory; chDB allows one per process. */
  path: string;
  database: string;
}

/** Opens a Store on embedded chDB with its data under `path`. */
export async function openChdbStore(options: ChdbOptions): Promise<Store> {
  mkdirSync(options.path, { recursive: true });
  // Same settings as the server backend (backends/clickhouse-server.ts says why).
  const connectionArgs = [
    '--output_format_json_quote_64bit_integers=0',
    '--max_query_size=4194304',
    '--parallel_view_processing=1',
  ];
  const session = new Session(options.path, { connectionArgs });
  const run = async (text: string, format?: string) => {
    try {
      return await session.queryAsync(text, format ? { format } : {});
    } catch (error) {
      throw storeError('chdb', text, error);
    }
  };
  await run(sql`CREATE DATABASE IF NOT EXISTS ${ident(options.database)}`.text);
  await run(sql`USE ${ident(options.database)}`.text);
  return completeStore({
    backend: 'chdb',
    database: options.database,

    async query<Row>(statement: Sql): Promise<Row[]> {
      const result = await run(statement.text, 'JSONEachRow');
      return parseJsonEachRow<Row>(result.text());
    },

    async command(statement: Sql) {
      await run(statement.text);
    },

    async *stream(statement: Sql, format: string, { signal } = {}) {
      checkStreamFormat(format);
      // chDB formats every streamed chunk as an output of its own: a Parquet file each (unreadable
      // joined) and a header line each for the *WithNames formats, which are dropped after the first.
      if (format === 'Parquet') {
        throw new StoreError('chdb streams Parquet as one file per chunk; use writeFile', statement.text);
      }
      const named = format.endsWith('WithNames');
      let header: Buffer | undefined;
      // Each stream gets a connection of its own to the same data directory: chDB allows one active
      // stream per connection, and a slow reader must never hold up the process's other queries.
      const own = new Session(options.path, { connectionArgs: [...connectionArgs, ...EXPORT_ARGS] });
      try {
        await own.queryAsync(sql`USE ${ident(options.database)}`.text);
        const result = own.queryStream(statement.text, { format, ...(signal ? { signal } : {}) });
        try {
          for await (const chunk of result) {
            let bytes = chunk.raw();
            if (named) {
              const line = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.indexOf(10) + 1);
              if (!header) header = Buffer.from(line);
              else if (line.equals(header)) bytes = bytes.subarray(line.byteLength);
              else throw new Error('a streamed chunk did not start with the header');
            }
            yield { bytes, rows: chunk.numRows };
          }
        } finally {
          result.cancel();
        }
      } catch (error) {
        throw storeError('chdb', statement.text, error);
      } finally {
        own.close();
      }
    },

    async writeFile(statement: Sql, format: string, path: string) {
      checkStreamFormat(format);
      // The engine writes the file itself, flushing as it goes: one valid file in any format, on a
      // connection of its own so a long export holds up no other query. No abort: chDB cannot stop
      // a running statement, and giving up early would leave it writing.
      const own = new Session(options.path, { connectionArgs: [...connectionArgs, ...EXPORT_ARGS] });
      const insert = sql`INSERT INTO FUNCTION file(${path}, ${format}) ${statement}`;
      try {
        await own.queryAsync(sql`USE ${ident(options.database)}`.text);
        await own.queryAsync(insert.text);
      } catch (error) {
        throw storeError('chdb', insert.text, error);
      } finally {
        own.close();
      }
    },

    async insertTsv(table: string, columns: readonly string[], body: string) {
      if (body.length === 0) return;
      try {
        await session.insert({
          table: ident(table).text,
          columns: columns.map((column) => ident(column).text),
          values: Buffer.from(body),
          format: 'TSV',
        });
      } catch (error) {
        throw storeError('chdb', `INSERT INTO ${table}`, error);
      }
    },

    async ping() {
      const result = await run('SELECT 1', 'TSV');
      return result.text().trim() === '1';
    },

    async close() {
      session.close();
    },
  });
}
