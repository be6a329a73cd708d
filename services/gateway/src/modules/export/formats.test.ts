import { describe, expect, test } from 'bun:test';
import type { StreamChunk } from '@sensormesh/store';
import ExcelJS from 'exceljs';
import { encodeExport, type RowCounter } from './formats.ts';
import { xlsxFromRows } from './xlsx.ts';

/** Engine-like chunks: the text cut at the given offsets, so lines straddle chunk borders. */
async function* chunked(text: string, cuts: number[], rows?: number[]): AsyncIterable<StreamChunk> {
  const bytes = Buffer.from(text);
  let start = 0;
  for (const [index, end] of [...cuts, bytes.length].entries()) {
    const chunk: StreamChunk = { bytes: bytes.subarray(start, end) };
    if (rows) chunk.rows = rows[index] ?? 0;
    yield chunk;
    start = end;
  }
}

async function collect(bytes: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of bytes) parts.push(Buffer.from(part));
  return Buffer.concat(parts);
}

const NDJSON = '{"a":1,"s":"x\\ny"}\n{"a":2,"s":","}\n{"a":3,"s":"]"}\n';

describe('encodeExport', () => {
  test('json wraps JSONEachRow into one array whatever the chunk borders', async () => {
    for (const cuts of [[], [1], [17], [18], [5, 18, 19, 30]]) {
      const counter: RowCounter = { rows: 0, bytes: 0 };
      const out = await collect(encodeExport('json', chunked(NDJSON, cuts), ['a', 's'], counter));
      expect(JSON.parse(out.toString())).toEqual([
        { a: 1, s: 'x\ny' },
        { a: 2, s: ',' },
        { a: 3, s: ']' },
      ]);
      expect(counter).toEqual({ rows: 3, bytes: out.byteLength });
    }
    const empty = await collect(encodeExport('json', chunked('', []), [], { rows: 0, bytes: 0 }));
    expect(JSON.parse(empty.toString())).toEqual([]);
  });

  test('csv counts lines less the header over HTTP, and the engine’s rows from chDB', async () => {
    const csv = '"a","b"\n1,"x"\n2,"y"\n';
    const http: RowCounter = { rows: 0, bytes: 0 };
    expect((await collect(encodeExport('csv', chunked(csv, [3, 9]), [], http))).toString()).toBe(csv);
    expect(http).toEqual({ rows: 2, bytes: csv.length });
    const chdb: RowCounter = { rows: 0, bytes: 0 };
    await collect(encodeExport('csv', chunked(csv, [13], [1, 1]), [], chdb));
    expect(chdb.rows).toBe(2);
  });
});

describe('xlsx', () => {
  test('splits into sheets with the header on each, values typed', async () => {
    const counter: RowCounter = { rows: 0, bytes: 0 };
    const out = await collect(xlsxFromRows(chunked(NDJSON, [20]), ['a', 's'], counter, 2));
    expect(counter.rows).toBe(3);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(
      out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer,
    );
    const sheets = workbook.worksheets.map((sheet) => [
      sheet.name,
      sheet
        .getSheetValues()
        .slice(1)
        .map((row) => (row as unknown[]).slice(1)),
    ]);
    expect(sheets).toEqual([
      [
        'data',
        [
          ['a', 's'],
          [1, 'x\ny'],
          [2, ','],
        ],
      ],
      [
        'data 2',
        [
          ['a', 's'],
          [3, ']'],
        ],
      ],
    ]);
  });

  test('a reader that stops early stops the producer and the engine stream', async () => {
    let finished = false;
    async function* endless(): AsyncIterable<StreamChunk> {
      try {
        for (let n = 0; ; n++) yield { bytes: Buffer.from(`{"n":${n},"s":"${'x'.repeat(200)}"}\n`) };
      } finally {
        finished = true;
      }
    }
    for await (const _ of xlsxFromRows(endless(), ['n', 's'], { rows: 0, bytes: 0 })) break;
    expect(finished).toBe(true);
  });
});
