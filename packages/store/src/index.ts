import { openChdbStore } from './backends/chdb.ts';
import { openClickHouseServerStore } from './backends/clickhouse-server.ts';
import type { Store } from './store.ts';

export * from './migrations.ts';
export * from './queries/readings.ts';
export { RowBinaryWriter } from './rowbinary.ts';
export * from './sql.ts';
export * from './store.ts';
export { encodeTsv, type TsvValue } from './tsv.ts';

/** How to reach storage: a ClickHouse server URL, or else embedded chDB under `chdbPath`. */
export interface StoreConfig {
  clickhouseUrl?: string;
  clickhouseUser?: string;
  clickhousePassword?: string;
  database?: string;
  chdbPath?: string;
}

/** Opens the Store: ClickHouse over HTTP when a URL is set, chDB otherwise (DESIGN.md, Storage). */
export function openStore(config: StoreConfig): Promise<Store> {
  const database = config.database ?? 'sensormesh';
  if (config.clickhouseUrl) {
    return openClickHouseServerStore({
      url: config.clickhouseUrl,
      database,
      ...(config.clickhouseUser ? { username: config.clickhouseUser } : {}),
      ...(config.clickhousePassword ? { password: config.clickhousePassword } : {}),
    });
  }
  return openChdbStore({ path: config.chdbPath ?? '.data/chdb', database });
}

/** Path of the repo's migration files. */
export const MIGRATIONS_DIR = new URL('../../../clickhouse', import.meta.url).pathname;
export * from './queries/accounts.ts';
export * from './queries/analytics-hourly.ts';
export * from './queries/analytics-plan.ts';
export * from './queries/analytics-platform.ts';
export * from './queries/analytics-profiles.ts';
export * from './queries/analytics-timeseries.ts';
export * from './queries/analytics-tz.ts';
export * from './queries/anomalies.ts';
export * from './queries/api-keys.ts';
export * from './queries/export-jobs.ts';
export * from './queries/export-readings.ts';
export * from './queries/fault-shadow.ts';
export * from './queries/feedback.ts';
export * from './queries/hourly-means.ts';
export * from './queries/hourly-means-by-sensor.ts';
export * from './queries/models.ts';
export * from './queries/orders.ts';
export * from './queries/predictions.ts';
export * from './queries/reading-entries.ts';
export * from './queries/sensors.ts';
export * from './queries/table-stats.ts';
export { nextVersion } from './queries/versions.ts';
