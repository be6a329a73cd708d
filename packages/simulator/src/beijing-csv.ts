import { compassToDegrees } from '@sensormesh/readings';

/** One station hour: UTC epoch ms and the metrics present that hour (NA fields left out). */
export interface StationRecord {
  station: string;
  ts: number;
  metrics: Record<string, number>;
}

/** Data-file column → canonical metric; units already match the catalogue (µg/m³, °C, hPa, mm, m/s). */
const NUMERIC_COLUMNS: Readonly<Record<string, string>> = {
  'PM2.5': 'pm25',
  PM10: 'pm10',
  SO2: 'so2',
  NO2: 'no2',
  CO: 'co',
  O3: 'o3',
  TEMP: 'temp',
  PRES: 'pressure',
  DEWP: 'dewpoint',
  RAIN: 'rain',
  WSPM: 'wind_speed',
};
const BEIJING_OFFSET_MS = 8 * 3_600_000; // UTC+8 all year: China has no daylight saving time
const REQUIRED = ['year', 'month', 'day', 'hour', 'station'];

/** Splits one CSV line; fields may be double-quoted (the data quotes `wd` and `station`). */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      fields.push(field);
      field = '';
    } else field += char;
  }
  fields.push(field);
  return fields;
}

/** Gzip's magic number: files are read as gzip when they start with it, as plain text otherwise. */
async function isGzip(path: string): Promise<boolean> {
  const head = new Uint8Array(await Bun.file(path).slice(0, 2).arrayBuffer());
  return head[0] === 0x1f && head[1] === 0x8b;
}

async function* lines(path: string): AsyncGenerator<string> {
  const bytes = Bun.file(path).stream();
  const raw = (await isGzip(path)) ? bytes.pipeThrough(new DecompressionStream('gzip')) : bytes;
  const text = raw.pipeThrough(new TextDecoderStream());
  let buffered = '';
  for await (const chunk of text) {
    buffered += chunk;
    let start = 0;
    let newline = buffered.indexOf('\n', start);
    while (newline !== -1) {
      yield buffered.slice(start, newline).replace(/\r$/, '');
      start = newline + 1;
      newline = buffered.indexOf('\n', start);
    }
    buffered = buffered.slice(start);
  }
  if (buffered.replace(/\r$/, '') !== '') yield buffered.replace(/\r$/, '');
}

/**
 * Streams one station file (CSV, gzipped or not, Beijing local time) as hourly records in UTC epoch ms with
 * canonical metric names. `NA` fields are left out, never sent as values; any other unreadable
 * field throws with file and line, since it means the file is not what we think it is.
 */
export async function* readStationFile(path: string): AsyncGenerator<StationRecord> {
  let header: string[] | undefined;
  let index: Record<string, number> = {};
  let lineNo = 0;
  for await (const line of lines(path)) {
    lineNo++;
    if (line === '') continue;
    const fields = splitCsvLine(line);
    if (!header) {
      header = fields;
      index = Object.fromEntries(header.map((name, i) => [name, i]));
      const missing = REQUIRED.filter((name) => index[name] === undefined);
      if (missing.length > 0) throw new Error(`${path}: header lacks ${missing.join(', ')}`);
      continue;
    }
    const at = (name: string) => fields[index[name] ?? -1];
    const part = (name: string) => Number(at(name));
    const ts = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour')) - BEIJING_OFFSET_MS;
    if (!Number.isFinite(ts)) throw new Error(`${path}:${lineNo}: unreadable date`);
    const metrics: Record<string, number> = {};
    for (const [column, metric] of Object.entries(NUMERIC_COLUMNS)) {
      const raw = at(column);
      if (raw === undefined || raw === 'NA' || raw === '') continue;
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new Error(`${path}:${lineNo}: ${column} = "${raw}" is not a number`);
      metrics[metric] = value;
    }
    const wd = at('wd');
    if (wd !== undefined && wd !== 'NA' && wd !== '') {
      const degrees = compassToDegrees(wd);
      if (degrees === undefined) throw new Error(`${path}:${lineNo}: wd = "${wd}" is not a compass point`);
      metrics.wind_dir = degrees;
    }
    yield { station: at('station') ?? '', ts, metrics };
  }
}
