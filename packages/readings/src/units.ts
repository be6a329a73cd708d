/** Converts degrees Fahrenheit to Celsius. */
export const fahrenheitToCelsius = (f: number) => ((f - 32) * 5) / 9;
/** Converts pascals to hectopascals. */
export const pascalToHectopascal = (pa: number) => pa / 100;
/** Converts kelvin to Celsius. */
export const kelvinToCelsius = (k: number) => k - 273.15;
/** Converts km/h to m/s. */
export const kmhToMs = (kmh: number) => kmh / 3.6;

/** Rounds away float noise from unit conversions (e.g. 21.000000000000004 → 21). */
export function tidy(value: number, digits = 6): number {
  return Number(value.toFixed(digits));
}

/** Converts a 16-point compass direction (N, NNE, …) to degrees. */
export function compassToDegrees(point: string): number | undefined {
  const points = [
    'N',
    'NNE',
    'NE',
    'ENE',
    'E',
    'ESE',
    'SE',
    'SSE',
    'S',
    'SSW',
    'SW',
    'WSW',
    'W',
    'WNW',
    'NW',
    'NNW',
  ];
  const index = points.indexOf(point.trim().toUpperCase());
  return index === -1 ? undefined : index * 22.5;
}
