/** One of the 12 Beijing national air-quality monitoring sites in the replay data. */
export interface Station {
  /** Name as spelled in the data files (`PRSA_Data_<name>_…`, column `station`). */
  name: string;
  /** Lower-case name used in sensor ids and sites. */
  slug: string;
  latitude: number;
  longitude: number;
}

/**
 * Approximate published coordinates (±0.01°) of the national monitoring sites 1001A–1012A, as in
 * the China National Environmental Monitoring Centre's station list reproduced in the literature
 * on this data set; good for a map, not for surveying.
 */
export const BEIJING_STATIONS: readonly Station[] = Object.freeze(
  (
    [
      ['Aotizhongxin', 39.982, 116.397],
      ['Changping', 40.217, 116.23],
      ['Dingling', 40.292, 116.22],
      ['Dongsi', 39.929, 116.417],
      ['Guanyuan', 39.929, 116.339],
      ['Gucheng', 39.914, 116.184],
      ['Huairou', 40.328, 116.628],
      ['Nongzhanguan', 39.937, 116.461],
      ['Shunyi', 40.127, 116.655],
      ['Tiantan', 39.886, 116.407],
      ['Wanliu', 39.987, 116.287],
      ['Wanshouxigong', 39.878, 116.352],
    ] as const
  ).map(([name, latitude, longitude]) => ({ name, slug: name.toLowerCase(), latitude, longitude })),
);

/** The metrics every station file carries, by canonical name. */
export const STATION_METRICS: readonly string[] = Object.freeze([
  'pm25',
  'pm10',
  'so2',
  'no2',
  'co',
  'o3',
  'temp',
  'pressure',
  'dewpoint',
  'rain',
  'wind_speed',
  'wind_dir',
]);

/** The sensor id a station replays as (`aq-beijing-dongsi`). */
export const stationSensorId = (station: Pick<Station, 'slug'>) => `aq-beijing-${station.slug}`;

/** The station a data file name belongs to, if it is one of ours (`PRSA_Data_Dongsi_…csv.gz`). */
export function stationOfFile(fileName: string): Station | undefined {
  const match = /^PRSA_Data_([A-Za-z]+)_.*\.csv\.gz$/.exec(fileName);
  return match ? BEIJING_STATIONS.find((station) => station.name === match[1]) : undefined;
}
