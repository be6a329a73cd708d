import { AppError } from '@sensormesh/errors';

const EPOCH_MS = /^\d{1,15}$/;
// A date, optionally with a time and zone; Date.parse alone accepts too much ("1", "March 7").
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** Parses a query instant (ISO-8601 or epoch ms) into epoch ms; 422 naming the parameter otherwise. */
export function parseInstant(value: string, field: string): number {
  const iso = ISO_8601.exec(value);
  // A date-time without a zone means UTC here (JS would read it as local time).
  const zoned = iso && iso[1] !== undefined && iso[4] === undefined ? `${value}Z` : value;
  const ms = EPOCH_MS.test(value) ? Number(value) : iso ? Date.parse(zoned) : Number.NaN;
  if (!Number.isFinite(ms)) {
    throw new AppError('VALIDATION_FAILED', `${field} must be an ISO-8601 date-time or epoch milliseconds`, {
      details: [{ path: `/${field}`, message: 'expected ISO-8601 or epoch milliseconds' }],
    });
  }
  return ms;
}
