import { PassThrough, type Writable } from 'node:stream';
import type { StreamChunk } from '@sensormesh/store';
import ExcelJS from 'exceljs';
import type { RowCounter } from './formats.ts';

/** Data rows per sheet: Excel's 1,048,576-row limit less the header row. */
export const XLSX_SHEET_ROWS = 1_048_575;

type Cell = string | number | null;

/** JSONEachRow chunks → rows of values in column order, with lines split across chunks joined again. */
async function* rowValues(chunks: AsyncIterable<StreamChunk>): AsyncIterable<Cell[]> {
  let carry = '';
  const decoder = new TextDecoder();
  for await (const chunk of chunks) {
    const text = carry + decoder.decode(chunk.bytes, { stream: true });
    let start = 0;
    let end = text.indexOf('\n', start);
    while (end !== -1) {
      if (end > start) yield Object.values(JSON.parse(text.slice(start, end)) as Record<string, Cell>);
      start = end + 1;
      end = text.indexOf('\n', start);
    }
    carry = text.slice(start);
  }
  if (carry.trim()) yield Object.values(JSON.parse(carry) as Record<string, Cell>);
}

interface SheetWriter {
  addRow(values: Cell[]): { commit(): void };
  commit(): void;
  /** exceljs's stream for this sheet's XML; its first pipe is the zip entry being compressed. */
  stream?: { pipes?: Writable[] };
}

/**
 * exceljs's streaming writer never waits for the zip compressor, so a fast producer piles XML up in
 * memory (measured: +170 MB heap per million rows). Waiting for the compressor's input to drain
 * keeps it to one window; the field names are exceljs 4.4.0's (the version is pinned).
 */
async function compressorCaughtUp(sheet: SheetWriter, stopped: AbortSignal): Promise<void> {
  const target = sheet.stream?.pipes?.[0] as
    | (Writable & { _writableState?: { needDrain?: boolean } })
    | undefined;
  if (!target?._writableState?.needDrain || stopped.aborted) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      target.off('drain', done);
      stopped.removeEventListener('abort', done);
      resolve();
    };
    target.once('drain', done);
    stopped.addEventListener('abort', done);
  });
}

/**
 * Streams rows into an XLSX workbook (exceljs's WorkbookWriter: inline strings, no styles), a new
 * sheet every `sheetRows` rows (Excel's limit by default), and yields the file's bytes as the zip is written.
 */
export function xlsxFromRows(
  chunks: AsyncIterable<StreamChunk>,
  columns: readonly string[],
  counter: RowCounter,
  sheetRows = XLSX_SHEET_ROWS,
): AsyncIterable<Uint8Array> {
  const output = new PassThrough();
  // Set when the reader goes away: the producer stops, which cancels the engine's query.
  const stop = new AbortController();
  const workbook = new ExcelJS.stream.xlsx.WorkbookWriter({
    stream: output,
    useSharedStrings: false,
    useStyles: false,
  });

  async function produce(): Promise<void> {
    let sheet: SheetWriter | undefined;
    let inSheet = 0;
    let sheets = 0;
    for await (const row of rowValues(chunks)) {
      if (stop.signal.aborted) return;
      if (!sheet || inSheet === sheetRows) {
        sheet?.commit();
        sheets++;
        sheet = workbook.addWorksheet(sheets === 1 ? 'data' : `data ${sheets}`) as unknown as SheetWriter;
        sheet.addRow([...columns]).commit();
        inSheet = 0;
      }
      sheet.addRow(row).commit();
      inSheet++;
      counter.rows++;
      if (counter.rows % 1_000 === 0) await compressorCaughtUp(sheet, stop.signal);
    }
    if (!sheet)
      workbook
        .addWorksheet('data')
        .addRow([...columns])
        .commit();
    else sheet.commit();
    await workbook.commit();
  }

  const producing = produce().catch((error: unknown) => {
    output.destroy(error instanceof Error ? error : new Error(String(error)));
  });

  return (async function* xlsxBytes() {
    try {
      for await (const bytes of output as AsyncIterable<Buffer>) {
        counter.bytes += bytes.byteLength;
        yield bytes;
      }
      await producing;
    } finally {
      stop.abort();
      output.destroy();
      await producing;
    }
  })();
}
