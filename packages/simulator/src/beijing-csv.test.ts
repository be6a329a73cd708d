import { describe, expect, test } from 'bun:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'bun';
import { readStationFile, splitCsvLine } from './beijing-csv.ts';

const FILE = new URL(
  '../../../../shared/data/beijing/train/PRSA_Data_Dongsi_20130301-20160229.csv.gz',
  import.meta.url,
).pathname;

const records = await Array.fromAsync(readStationFile(FILE));
// The raw rows, read independently, to check the reader against.
const raw = new TextDecoder()
  .decode(gunzipSync(await Bun.file(FILE).bytes()))
  .split('\r\n')
  .filter((line) => line !== '')
  .map(splitCsvLine);
const header = raw[0] as string[];
const rows = raw.slice(1);

describe('readStationFile on a real station file', () => {
  test('yields every hour: 26,304 rows, hourly, starting 2013-03-01 00:00 Beijing = 2013-02-28T16:00Z', () => {
    expect(records).toHaveLength(26_304);
    expect(new Date(records[0]?.ts ?? 0).toISOString()).toBe('2013-02-28T16:00:00.000Z');
    expect(new Date(records.at(-1)?.ts ?? 0).toISOString()).toBe('2016-02-29T15:00:00.000Z');
    expect(records.every((record, i) => i === 0 || record.ts - (records[i - 1]?.ts ?? 0) === 3_600_000)).toBe(
      true,
    );
    expect(records[0]?.station).toBe('Dongsi');
  });

  test('maps names and units and converts the compass point to degrees', () => {
    // The first row: 1,2013,3,1,0,9,9,3,17,300,89,-0.5,1024.5,-21.4,0,"NNW",5.7,"Dongsi"
    expect(rows[0]?.join(',')).toBe('1,2013,3,1,0,9,9,3,17,300,89,-0.5,1024.5,-21.4,0,NNW,5.7,Dongsi');
    expect(records[0]?.metrics).toEqual({
      pm25: 9,
      pm10: 9,
      so2: 3,
      no2: 17,
      co: 300,
      o3: 89,
      temp: -0.5,
      pressure: 1024.5,
      dewpoint: -21.4,
      rain: 0,
      wind_speed: 5.7,
      wind_dir: 337.5,
    });
  });

  test('leaves NA fields out instead of sending them, and keeps the rest of the row', () => {
    const pm25 = header.indexOf('PM2.5');
    const naRows = rows.filter((cells) => cells[pm25] === 'NA').length;
    expect(naRows).toBeGreaterThan(100);
    expect(records.filter((record) => !('pm25' in record.metrics)).length).toBe(naRows);
    const wd = header.indexOf('wd');
    expect(records.filter((record) => !('wind_dir' in record.metrics)).length).toBe(
      rows.filter((cells) => cells[wd] === 'NA').length,
    );
    for (const record of records) {
      for (const value of Object.values(record.metrics)) expect(Number.isFinite(value)).toBe(true);
    }
    const withHole = records.find((record) => !('pm25' in record.metrics) && 'temp' in record.metrics);
    expect(withHole).toBeDefined();
  });
});

test('splitCsvLine handles quoted fields and doubled quotes', () => {
  expect(splitCsvLine('1,"NNW",NA,"a,b","say ""hi"""')).toEqual(['1', 'NNW', 'NA', 'a,b', 'say "hi"']);
});

test('readStationFile reads a plain (not gzipped) CSV the same way as the gzipped one', async () => {
  const text = new TextDecoder().decode(gunzipSync(await Bun.file(FILE).bytes()));
  const plain = join(tmpdir(), `sensormesh-plain-${process.pid}.csv`);
  await Bun.write(plain, text.split('\r\n').slice(0, 50).join('\r\n'));
  try {
    const plainRecords = await Array.fromAsync(readStationFile(plain));
    expect(plainRecords).toHaveLength(49);
    expect(plainRecords).toEqual(records.slice(0, 49));
  } finally {
    await Bun.file(plain).delete();
  }
});
