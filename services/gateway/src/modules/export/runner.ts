import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { exportReadingsSql, type Store, sql, streamExport } from '@sensormesh/store';
import { encodeExport, FORMATS, type RowCounter } from './formats.ts';
import type { ExportPlan } from './plan.ts';

/** chDB streams Parquet as one file per chunk, so there the engine writes the file itself. */
const engineWritesFile = (store: Store, plan: ExportPlan) =>
  plan.format === 'parquet' && store.backend === 'chdb';

/**
 * Has the engine write the export to `path`, then counts its rows from the file's metadata. Not
 * abortable: chDB cannot stop a running statement, and a file it created after we gave up would
 * outlive our cleanup, so callers wait for it and then look at their signal.
 */
async function engineFile(store: Store, plan: ExportPlan, path: string, counter: RowCounter) {
  await store.writeFile(exportReadingsSql(plan.query), FORMATS[plan.format].engineFormat, path);
  const [row] = await store.query<{ rows: number }>(
    sql`SELECT count() AS rows FROM file(${path}, 'Parquet')`,
  );
  counter.rows = Number(row?.rows ?? 0);
  counter.bytes = (await stat(path)).size;
}

/**
 * Runs an export into a byte stream (the HTTP body); `counter` follows along. Where the engine must
 * write the file itself, it goes to `scratch()` first and is read back, then removed.
 */
export function exportBytes(
  store: Store,
  plan: ExportPlan,
  counter: RowCounter,
  options: { signal?: AbortSignal; scratch?: () => string } = {},
): AsyncIterable<Uint8Array> {
  const { signal, scratch } = options;
  if (engineWritesFile(store, plan)) {
    if (!scratch) throw new Error('exportBytes: this export needs a scratch file');
    return (async function* fromFile() {
      const path = scratch();
      try {
        await engineFile(store, plan, path, { rows: 0, bytes: 0 });
        signal?.throwIfAborted();
        for await (const bytes of Bun.file(path).stream()) {
          counter.bytes += bytes.byteLength;
          yield bytes;
        }
        counter.rows = plan.estimatedRows;
      } finally {
        await rm(path, { force: true });
      }
    })();
  }
  const chunks = streamExport(store)(plan.query, FORMATS[plan.format].engineFormat, signal ? { signal } : {});
  return encodeExport(plan.format, chunks, plan.columns, counter);
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason);
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/**
 * Writes an export to `path` (created, never overwritten) with the writer's backpressure, calling
 * `onChunk` after each chunk; on failure or abort the partial file is removed.
 */
export async function writeExportFile(options: {
  store: Store;
  plan: ExportPlan;
  path: string;
  signal: AbortSignal;
  onChunk?: (counter: RowCounter) => Promise<void> | void;
}): Promise<RowCounter> {
  const { signal, store, plan, path } = options;
  const counter: RowCounter = { rows: 0, bytes: 0 };
  const stop = aborted(signal);
  stop.catch(() => {}); // raced below; an abort after the end is nobody's concern
  if (engineWritesFile(store, plan)) {
    try {
      // One statement: the engine cannot be interrupted, so an abort takes effect when it returns.
      await engineFile(store, plan, path, counter);
      signal.throwIfAborted();
      if (options.onChunk) await Promise.race([options.onChunk(counter), stop]);
      return counter;
    } catch (error) {
      await rm(path, { force: true });
      throw error;
    }
  }
  const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
  try {
    await Promise.race([
      new Promise((resolve, reject) => {
        out.once('open', resolve);
        out.once('error', reject);
      }),
      stop,
    ]);
    for await (const bytes of exportBytes(store, plan, counter, { signal })) {
      if (!out.write(bytes)) await Promise.race([new Promise((resolve) => out.once('drain', resolve)), stop]);
      if (options.onChunk) await Promise.race([options.onChunk(counter), stop]);
      signal.throwIfAborted();
    }
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.end(() => resolve());
    });
    return counter;
  } catch (error) {
    out.destroy();
    await rm(path, { force: true });
    throw error;
  }
}
