import { AppError } from '@sensormesh/errors';
import {
  countExportRows,
  countWideRows,
  EXPORT_COLUMNS,
  type ExportColumn,
  type ExportQuery,
  engineKnowsTimeZone,
  type Store,
  versionAtLeast,
  WIDE_KEY_COLUMNS,
  type WideKeyColumn,
} from '@sensormesh/store';
import type { GatewayConfig } from '../../env.ts';
import { parseInstant } from '../../instant.ts';
import { FORMATS } from './formats.ts';
import type { ExportFormat, ExportRequest } from './model.ts';
import { XLSX_SHEET_ROWS } from './xlsx.ts';

/** A validated export: the query to run, the header it produces and how many rows to expect. */
export interface ExportPlan {
  format: ExportFormat;
  query: ExportQuery;
  /** Column names in output order (the XLSX header; the engine names them the same). */
  columns: string[];
  estimatedRows: number;
}

const DAY_MS = 86_400_000;
// The engine's DateTime (used by the *_iso columns) ends in 2106.
const MAX_TS = 4_294_967_295_000;
const DEFAULT_LONG: ExportColumn[] = ['sensor_id', 'metric', 'ts', 'value'];
const DEFAULT_WIDE: WideKeyColumn[] = ['sensor_id', 'ts'];
const ZONE = /^[A-Za-z0-9_+\-/]{1,64}$/;

const invalid = (path: string, message: string, details: Record<string, unknown> = {}) =>
  new AppError('VALIDATION_FAILED', message, { details: [{ path, message, ...details }] });

/** The canonical IANA name of a zone the runtime knows, or a 422. */
export function canonicalTimeZone(timeZone: string): string {
  if (ZONE.test(timeZone)) {
    try {
      return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
    } catch {
      // fall through to the error below
    }
  }
  throw invalid(
    '/timeZone',
    `unknown time zone ${JSON.stringify(timeZone)}; use an IANA name such as Europe/Berlin`,
  );
}

function pickColumns<C extends string>(
  given: readonly string[] | undefined,
  allowed: readonly C[],
  fallback: C[],
  layout: string,
): C[] {
  if (!given) return fallback;
  given.forEach((column, index) => {
    if (!(allowed as readonly string[]).includes(column)) {
      throw invalid(
        `/columns/${index}`,
        `unknown column ${JSON.stringify(column)} for the ${layout} layout`,
        {
          allowed,
        },
      );
    }
    if (given.indexOf(column) !== index)
      throw invalid(`/columns/${index}`, `column ${column} is listed twice`);
  });
  return given as C[];
}

function range(body: ExportRequest, maxDays: number): { from: number; to: number } {
  const from = parseInstant(String(body.from), 'from');
  const to = parseInstant(String(body.to), 'to');
  if (from < 0 || from > MAX_TS) throw invalid('/from', 'from is out of range (1970 to 2106)');
  if (to > MAX_TS) throw invalid('/to', 'to is out of range (1970 to 2106)');
  if (to <= from) throw invalid('/to', 'to must be after from (from is inclusive, to exclusive)');
  if (to - from > maxDays * DAY_MS) {
    throw invalid('/to', `the range is longer than ${maxDays} days; split the export`, { maxDays });
  }
  return { from, to };
}

/**
 * Validates a request against the configuration and the engine, and sizes it with a count query.
 * Every refusal is a 4xx naming the field; nothing is stored before this passes.
 */
export function exportPlanner(store: Store, config: GatewayConfig) {
  return async function plan(body: ExportRequest): Promise<ExportPlan> {
    const { from, to } = range(body, config.EXPORT_MAX_RANGE_DAYS);
    const timeZone = canonicalTimeZone(body.timeZone ?? 'UTC');
    const spec = FORMATS[body.format];
    if (store.backend === 'clickhouse-server' && spec.minServerVersion) {
      const version = await store.serverVersion();
      if (!versionAtLeast(version, spec.minServerVersion)) {
        throw invalid('/format', `this ClickHouse server (${version}) cannot write ${body.format}`, {
          reason: 'unsupported_format',
          serverVersion: version,
          minimumVersion: spec.minServerVersion,
        });
      }
    }
    const selection = { from, to, sensorIds: body.sensorIds, metrics: body.metrics, tags: body.tags };
    let query: ExportQuery;
    let columns: string[];
    if ((body.layout ?? 'long') === 'wide') {
      if (!body.metrics) throw invalid('/metrics', 'the wide layout needs metrics: they become its columns');
      const keys = pickColumns(body.columns, WIDE_KEY_COLUMNS, DEFAULT_WIDE, 'wide');
      query = {
        ...selection,
        timeZone,
        layout: 'wide',
        columns: keys,
        metrics: body.metrics,
        missing: spec.missing,
      };
      columns = [...keys, ...body.metrics];
    } else {
      const picked = pickColumns(body.columns, EXPORT_COLUMNS, DEFAULT_LONG, 'long');
      query = { ...selection, timeZone, layout: 'long', columns: picked };
      columns = [...picked];
    }
    if (columns.some((column) => column.endsWith('_iso')) && !(await engineKnowsTimeZone(store)(timeZone))) {
      throw invalid('/timeZone', `the database does not know the time zone ${timeZone}`);
    }
    const stored = await countExportRows(store)(selection);
    const limit = (max: number, what: string) => {
      throw invalid('/to', `${what}: narrow the range or the filters`, {
        reason: 'too_many_rows',
        estimatedRows: stored,
        maxRows: max,
      });
    };
    if (stored > config.EXPORT_MAX_ROWS)
      limit(config.EXPORT_MAX_ROWS, `more than ${config.EXPORT_MAX_ROWS} rows`);
    if (query.layout === 'wide' && stored > config.EXPORT_WIDE_MAX_ROWS) {
      limit(
        config.EXPORT_WIDE_MAX_ROWS,
        `a wide export may read at most ${config.EXPORT_WIDE_MAX_ROWS} readings`,
      );
    }
    const estimatedRows = query.layout === 'wide' ? await countWideRows(store)(selection) : stored;
    if (body.format === 'xlsx' && estimatedRows > config.EXPORT_XLSX_MAX_ROWS) {
      limit(
        config.EXPORT_XLSX_MAX_ROWS,
        `XLSX holds at most ${config.EXPORT_XLSX_MAX_ROWS} rows here (sheets of ${XLSX_SHEET_ROWS}); use csv or parquet`,
      );
    }
    return { format: body.format, query, columns, estimatedRows };
  };
}
