import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@sensormesh/log';
import { silentLogger } from '@sensormesh/log';
import { sql, trusted } from './sql.ts';
import { type Store, versionAtLeast } from './store.ts';

/** One migration file, parsed into statements. */
export interface Migration {
  version: number;
  name: string;
  checksum: string;
  statements: MigrationStatement[];
}

/** A statement and the oldest engine version it needs (from a `-- @min-version X` line). */
export interface MigrationStatement {
  text: string;
  minVersion?: string;
}

/** Thrown when a migration fails; the migrations table records which one and why. */
export class MigrationError extends Error {
  constructor(
    readonly migration: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(`migration ${migration} failed: ${message}`, options);
    this.name = 'MigrationError';
  }
}

const FILE_NAME = /^(\d{3,})_([a-z0-9_]+)\.sql$/;
const MIN_VERSION = /^\s*--\s*@min-version\s+([\d.]+)\s*$/m;

/** Splits SQL text on top-level semicolons, ignoring those inside quotes and comments. */
export function splitStatements(text: string): string[] {
  const statements: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (let index = 0; index < text.length; index++) {
    const char = text[index] as string;
    const next = text[index + 1];
    if (quote) {
      current += char;
      if (char === '\\') {
        current += next ?? '';
        index++;
      } else if (char === quote) quote = null;
    } else if (char === '-' && next === '-') {
      const end = text.indexOf('\n', index);
      const stop = end === -1 ? text.length : end;
      current += text.slice(index, stop);
      index = stop - 1;
    } else if (char === "'" || char === '"' || char === '`') {
      quote = char;
      current += char;
    } else if (char === ';') {
      statements.push(current);
      current = '';
    } else current += char;
  }
  statements.push(current);
  const hasCode = (statement: string) => statement.replace(/--[^\n]*/g, '').trim().length > 0;
  return statements.filter(hasCode).map((statement) => statement.trim());
}

/** Reads clickhouse/NNN_name.sql files in version order. */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (!match) throw new MigrationError(file, 'file name must look like 001_readings.sql');
    const text = await Bun.file(join(dir, file)).text();
    const statements = splitStatements(text).map((statement) => {
      const minVersion = MIN_VERSION.exec(statement)?.[1];
      return minVersion ? { text: statement, minVersion } : { text: statement };
    });
    const version = Number(match[1]);
    if (migrations.some((migration) => migration.version === version)) {
      throw new MigrationError(file, `version ${version} is used twice`);
    }
    migrations.push({
      version,
      name: file,
      checksum: createHash('sha256').update(text).digest('hex'),
      statements,
    });
  }
  return migrations;
}

interface MigrationState {
  version: number;
  status: 'applied' | 'failed';
  checksum: string;
}

async function ensureMigrationsTable(store: Store): Promise<void> {
  await store.command(sql`
    CREATE TABLE IF NOT EXISTS schema_migrations (
      version UInt32,
      name String,
      checksum String,
      status String,
      error String,
      engine_version String,
      recorded_at Int64
    ) ENGINE = MergeTree() ORDER BY (version, recorded_at)`);
}

/** The latest recorded state of every migration, by version. */
export async function migrationStates(store: Store): Promise<Map<number, MigrationState>> {
  await ensureMigrationsTable(store);
  const rows = await store.query<MigrationState>(sql`
    SELECT version, argMax(status, recorded_at) AS status, argMax(checksum, recorded_at) AS checksum
    FROM schema_migrations GROUP BY version ORDER BY version`);
  return new Map(rows.map((row) => [row.version, row]));
}

async function record(store: Store, migration: Migration, status: string, error: string, engine: string) {
  await store.insert(
    'schema_migrations',
    ['version', 'name', 'checksum', 'status', 'error', 'engine_version', 'recorded_at'],
    [[migration.version, migration.name, migration.checksum, status, error, engine, Date.now()]],
  );
}

/** What a migration run did. */
export interface MigrationReport {
  applied: string[];
  skipped: string[];
}

/**
 * Applies every migration not yet applied, in order, recording each as applied or failed. Stops at
 * the first failure. An applied migration whose file changed is refused rather than silently skipped.
 */
export async function migrate(
  store: Store,
  dir: string,
  logger: Logger = silentLogger(),
): Promise<MigrationReport> {
  const migrations = await loadMigrations(dir);
  const states = await migrationStates(store);
  const engine = await store.serverVersion();
  const report: MigrationReport = { applied: [], skipped: [] };
  for (const migration of migrations) {
    const state = states.get(migration.version);
    if (state?.status === 'applied') {
      if (state.checksum !== migration.checksum) {
        throw new MigrationError(
          migration.name,
          'file changed after it was applied; add a new migration instead',
        );
      }
      report.skipped.push(migration.name);
      continue;
    }
    for (const statement of migration.statements) {
      if (statement.minVersion && !versionAtLeast(engine, statement.minVersion)) {
        logger.info(
          { migration: migration.name, minVersion: statement.minVersion, engine },
          'statement skipped',
        );
        continue;
      }
      try {
        await store.command(trusted(statement.text));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await record(store, migration, 'failed', message, engine);
        logger.error({ migration: migration.name, err: error }, 'migration failed');
        throw new MigrationError(migration.name, message, { cause: error });
      }
    }
    await record(store, migration, 'applied', '', engine);
    logger.info({ migration: migration.name, engine }, 'migration applied');
    report.applied.push(migration.name);
  }
  return report;
}
