/** A canonical metric: its unit and the range a working instrument can report. */
export interface MetricSpec {
  name: string;
  unit: string;
  description: string;
  min: number;
  max: number;
}

const spec = (name: string, unit: string, min: number, max: number, description: string): MetricSpec => ({
  name,
  unit,
  min,
  max,
  description,
});

/**
 * The canonical metrics. Ranges are physical plausibility, not air-quality limits: a value outside
 * is an instrument or transmission fault (PM2.5 999 is an instrument cap, still inside).
 */
export const METRICS: Readonly<Record<string, MetricSpec>> = Object.freeze(
  Object.fromEntries(
    [
      spec('pm1', 'µg/m³', 0, 1_500, 'particulate matter < 1 µm'),
      spec('pm25', 'µg/m³', 0, 1_500, 'particulate matter < 2.5 µm'),
      spec('pm10', 'µg/m³', 0, 3_000, 'particulate matter < 10 µm'),
      spec('no2', 'µg/m³', 0, 2_000, 'nitrogen dioxide'),
      spec('so2', 'µg/m³', 0, 2_000, 'sulphur dioxide'),
      spec('co', 'µg/m³', 0, 60_000, 'carbon monoxide'),
      spec('o3', 'µg/m³', 0, 1_200, 'ozone'),
      spec('temp', '°C', -60, 70, 'air temperature'),
      spec('rh', '%', 0, 100, 'relative humidity'),
      spec('pressure', 'hPa', 300, 1_100, 'air pressure'),
      spec('dewpoint', '°C', -80, 40, 'dew point'),
      spec('wind_speed', 'm/s', 0, 90, 'wind speed'),
      spec('wind_dir', '°', 0, 360, 'wind direction, degrees clockwise from north'),
      spec('rain', 'mm', 0, 500, 'precipitation in the reporting period'),
      spec('co2', 'ppm', 0, 20_000, 'carbon dioxide'),
      spec('noise', 'dB(A)', 0, 160, 'sound level'),
    ].map((metric) => [metric.name, metric]),
  ),
);

/** Values vendors send for "no reading"; they are refused, never averaged in. */
export const SENTINELS: ReadonlySet<number> = new Set([-999, -9999, -99_999, 65_535, -32_768]);

/** Metric names: lower case, digits and underscores, as stored and used in MQTT payloads. */
export const METRIC_NAME = /^[a-z][a-z0-9_]{0,63}$/;
