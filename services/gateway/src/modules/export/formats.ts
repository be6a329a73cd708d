import type { StreamChunk } from '@sensormesh/store';
import type { ExportFormat } from './model.ts';
import { xlsxFromRows } from './xlsx.ts';

/** How each export format is made: the engine's output format, and what the client is told. */
export interface FormatSpec {
  engineFormat: 'CSVWithNames' | 'JSONEachRow' | 'Parquet';
  contentType: string;
  extension: string;
  /** Oldest ClickHouse server that writes it (chDB always does). */
  minServerVersion?: string;
  /** Whether a wide export shows a missing metric as NULL or as an empty string. */
  missing: 'null' | 'empty';
}

export const FORMATS: Readonly<Record<ExportFormat, FormatSpec>> = {
  csv: {
    engineFormat: 'CSVWithNames',
    contentType: 'text/csv; charset=utf-8',
    extension: 'csv',
    missing: 'empty',
  },
  ndjson: {
    engineFormat: 'JSONEachRow',
    contentType: 'application/x-ndjson',
    extension: 'ndjson',
    missing: 'null',
  },
  json: { engineFormat: 'JSONEachRow', contentType: 'application/json', extension: 'json', missing: 'null' },
  // Rows come as JSON objects (18.16 lacks JSONCompactEachRow) into a streaming XLSX writer (xlsx.ts).
  xlsx: {
    engineFormat: 'JSONEachRow',
    contentType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    extension: 'xlsx',
    missing: 'null',
  },
  // The engine writes Parquet itself; Debian's 18.16 predates the format (added in 19.1).
  parquet: {
    engineFormat: 'Parquet',
    contentType: 'application/vnd.apache.parquet',
    extension: 'parquet',
    minServerVersion: '19.1',
    missing: 'null',
  },
};

/** Rows written so far; `exact` is false where only the engine knew (Parquet over HTTP). */
export interface RowCounter {
  rows: number;
  bytes: number;
}

const NEWLINE = 10;

function countNewlines(bytes: Uint8Array): number {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let count = 0;
  let at = buffer.indexOf(NEWLINE);
  while (at !== -1) {
    count++;
    at = buffer.indexOf(NEWLINE, at + 1);
  }
  return count;
}

/** Text formats pass through as the engine wrote them; rows are its lines (less the CSV header). */
async function* lines(chunks: AsyncIterable<StreamChunk>, counter: RowCounter, header: number) {
  let seen = 0;
  for await (const chunk of chunks) {
    seen += chunk.rows ?? countNewlines(chunk.bytes);
    counter.rows = Math.max(0, seen - (chunk.rows === undefined ? header : 0));
    counter.bytes += chunk.bytes.byteLength;
    yield chunk.bytes;
  }
}

const OPEN = Buffer.from('[\n');
const SEPARATOR = Buffer.from(',\n');
const CLOSE = Buffer.from('\n]\n');
const EMPTY_CLOSE = Buffer.from(']\n');

/** JSONEachRow made into one JSON array: every line break but the last becomes ",\n". */
async function* jsonArray(chunks: AsyncIterable<StreamChunk>, counter: RowCounter) {
  let pending = false; // a line ended; its separator waits until another line follows
  let any = false;
  counter.bytes += OPEN.byteLength;
  yield OPEN;
  for await (const chunk of chunks) {
    const buffer = Buffer.from(chunk.bytes.buffer, chunk.bytes.byteOffset, chunk.bytes.byteLength);
    const parts: Buffer[] = [];
    let start = 0;
    while (start < buffer.length) {
      if (pending) parts.push(SEPARATOR);
      pending = false;
      const end = buffer.indexOf(NEWLINE, start);
      if (end === -1) {
        parts.push(buffer.subarray(start));
        break;
      }
      parts.push(buffer.subarray(start, end));
      counter.rows++;
      any = true;
      pending = true;
      start = end + 1;
    }
    const out = Buffer.concat(parts);
    counter.bytes += out.byteLength;
    if (out.byteLength > 0) yield out;
  }
  const close = any ? CLOSE : EMPTY_CLOSE;
  counter.bytes += close.byteLength;
  yield close;
}

/** Raw bytes as the engine wrote them (Parquet); rows as the engine counted them, when it says. */
async function* passThrough(chunks: AsyncIterable<StreamChunk>, counter: RowCounter) {
  for await (const chunk of chunks) {
    counter.rows += chunk.rows ?? 0;
    counter.bytes += chunk.bytes.byteLength;
    yield chunk.bytes;
  }
}

/**
 * The file's bytes, produced as the engine's chunks arrive: nothing is held beyond a chunk (and the
 * XLSX writer's window), so memory stays flat whatever the row count. `counter` follows along.
 */
export function encodeExport(
  format: ExportFormat,
  chunks: AsyncIterable<StreamChunk>,
  columns: readonly string[],
  counter: RowCounter,
): AsyncIterable<Uint8Array> {
  switch (format) {
    case 'csv':
      return lines(chunks, counter, 1);
    case 'ndjson':
      return lines(chunks, counter, 0);
    case 'json':
      return jsonArray(chunks, counter);
    case 'parquet':
      return passThrough(chunks, counter);
    case 'xlsx':
      return xlsxFromRows(chunks, columns, counter);
  }
}
