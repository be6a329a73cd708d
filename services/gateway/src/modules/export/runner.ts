import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { type Store, streamExport } from '@sensormesh/store';
import { encodeExport, FORMATS, type RowCounter } from './formats.ts';
import type { ExportPlan } from './plan.ts';

/** Runs an export into a byte stream (the HTTP body, or a file); `counter` follows along. */
export function exportBytes(
  store: Store,
  plan: ExportPlan,
  counter: RowCounter,
  signal?: AbortSignal,
): AsyncIterable<Uint8Array> {
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
  const { signal } = options;
  const counter: RowCounter = { rows: 0, bytes: 0 };
  const out = createWriteStream(options.path, { flags: 'wx', mode: 0o600 });
  const stop = aborted(signal);
  stop.catch(() => {}); // raced below; an abort after the end is nobody's concern
  try {
    await Promise.race([
      new Promise((resolve, reject) => {
        out.once('open', resolve);
        out.once('error', reject);
      }),
      stop,
    ]);
    for await (const bytes of exportBytes(options.store, options.plan, counter, signal)) {
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
    await rm(options.path, { force: true });
    throw error;
  }
}
