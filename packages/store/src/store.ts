import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type Sql, sql } from './sql.ts';
import { encodeTsv, type TsvValue } from './tsv.ts';

/** Which engine answers the store's SQL. */
export type StoreBackend = 'clickhouse-server' | 'chdb';

/** The storage interface every service uses; both backends run the same SQL. */
export interface Store {
  readonly backend: StoreBackend;
  readonly database: string;
  /** The engine's version string, e.g. "18.16.1" or "26.7.2.1". */
  serverVersion(): Promise<string>;
  /** Runs a SELECT and returns its rows as objects (JSONEachRow, 64-bit integers as numbers). */
  query<Row = Record<string, unknown>>(statement: Sql): Promise<Row[]>;
  /** Runs a statement that returns no rows (DDL, INSERT … SELECT, ALTER). */
  command(statement: Sql): Promise<void>;
  /**
   * Streams a SELECT's result as raw bytes in an engine output `format` (CSVWithNames, Parquet, …),
   * chunk by chunk as the engine produces them, so memory stays flat whatever the row count.
   * Breaking out of the loop (or `signal`) cancels the query.
   */
  stream(statement: Sql, format: string, options?: { signal?: AbortSignal }): AsyncIterable<StreamChunk>;
  /**
   * Writes a SELECT's result to a new local file in `format`. chDB's engine writes it itself (the
   * only way to get Parquet from chDB without holding it whole; it cannot be aborted there); over
   * HTTP the stream is written.
   */
  writeFile(statement: Sql, format: string, path: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Inserts rows, positionally matching `columns`, in one TabSeparated insert. */
  insert(table: string, columns: readonly string[], rows: readonly (readonly TsvValue[])[]): Promise<void>;
  /** Inserts TabSeparated text the caller encoded (hot paths with a row encoder of their own). */
  insertTsv(table: string, columns: readonly string[], body: string): Promise<void>;
  /**
   * Inserts RowBinary the caller encoded (`RowBinaryWriter`), where the backend takes it: over HTTP,
   * where 18.16's text parser rounds some floats one bit off. chDB parses text exactly and its
   * insert API takes text formats only, so there it is absent and callers send TSV.
   */
  insertRowBinary?(table: string, columns: readonly string[], body: Uint8Array): Promise<void>;
  /** True when the engine answers a trivial query. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/** One chunk of a streamed result: bytes in the requested format, and its row count when the engine says. */
export interface StreamChunk {
  bytes: Uint8Array;
  /** Rows in this chunk (chDB reports them; over HTTP the server does not). */
  rows?: number;
}

/** Output formats `Store.stream` accepts: a closed list, since the name becomes part of the SQL text. */
export const STREAM_FORMATS = [
  'CSVWithNames',
  'CSV',
  'TabSeparatedWithNames',
  'JSONEachRow',
  'JSONCompactEachRow',
  'Parquet',
] as const;

/** Refuses a format outside STREAM_FORMATS before it reaches an engine. */
export function checkStreamFormat(format: string): void {
  if (!(STREAM_FORMATS as readonly string[]).includes(format)) {
    throw new StoreError(`unsupported stream format ${JSON.stringify(format)}`, '');
  }
}

/** What a backend implements; `completeStore` derives the rest of the Store from it. */
export type StoreCore = Omit<Store, 'serverVersion' | 'insert' | 'writeFile'> &
  Partial<Pick<Store, 'writeFile'>>;

/** Writes a stream to a new file with the file's backpressure (the default `writeFile`). */
async function streamToFile(
  core: StoreCore,
  statement: Sql,
  format: string,
  path: string,
  options: { signal?: AbortSignal },
): Promise<void> {
  const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  try {
    await once(out, 'open');
    for await (const chunk of core.stream(statement, format, options)) {
      if (!out.write(chunk.bytes)) await once(out, 'drain');
    }
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.end(() => resolve());
    });
  } catch (error) {
    out.destroy();
    await rm(path, { force: true });
    throw error;
  }
}

/** Adds the backend-independent methods: a cached engine version, and row inserts via TSV. */
export function completeStore(core: StoreCore): Store {
  let version: Promise<string> | undefined;
  const store: Store = {
    ...core,
    serverVersion() {
      version ??= core
        .query<{ version: string }>(sql`SELECT version() AS version`)
        .then(([row]) => row?.version ?? '0');
      return version;
    },
    async insert(table, columns, rows) {
      if (rows.length > 0) await core.insertTsv(table, columns, encodeTsv(rows));
    },
    writeFile:
      core.writeFile ??
      ((statement, format, path, options = {}) => streamToFile(core, statement, format, path, options)),
  };
  return store;
}

/** A store failure, carrying the engine's message and the statement that failed (truncated). */
export class StoreError extends Error {
  constructor(
    message: string,
    readonly statement: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** Wraps an engine failure as a StoreError naming the backend and the statement. */
export function storeError(backend: StoreBackend, statement: string, error: unknown): StoreError {
  const message = error instanceof Error ? error.message : String(error);
  return new StoreError(`${backend}: ${message}`, excerpt(statement), { cause: error });
}

/** Parses a version string into numbers for comparison ("18.16.1" → [18, 16, 1]). */
export function parseVersion(version: string): number[] {
  return version.split('.').map((part) => Number.parseInt(part, 10) || 0);
}

/** True when `version` is at least `minimum` (both dotted). */
export function versionAtLeast(version: string, minimum: string): boolean {
  const have = parseVersion(version);
  const want = parseVersion(minimum);
  for (let index = 0; index < want.length; index++) {
    const a = have[index] ?? 0;
    const b = want[index] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** Splits JSONEachRow text into row objects. */
export function parseJsonEachRow<Row>(text: string): Row[] {
  const rows: Row[] = [];
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    if (end > start) rows.push(JSON.parse(text.slice(start, end)) as Row);
    start = end + 1;
  }
  return rows;
}

/** Shortens a statement for error messages and logs. */
export function excerpt(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length} chars)` : text;
}
