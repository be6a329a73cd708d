import type { Channel } from './channels.ts';
import { StreamError } from './messages.ts';
import type { StreamFilter } from './model.ts';

const MAX_CURSOR = (1n << 64n) - 1n;

/** Checks a cursor's parts fit 64 bits; returns it as "<ms>-<seq>". */
export function checkCursor(cursor: string): string {
  const [ms = '0', seq = '0'] = cursor.split('-');
  if (BigInt(ms) > MAX_CURSOR || BigInt(seq) > MAX_CURSOR) {
    throw new StreamError('VALIDATION_FAILED', 'the cursor is not a stream id', [
      { path: '/since', message: 'each part must fit in 64 bits' },
    ]);
  }
  return `${BigInt(ms)}-${BigInt(seq)}`;
}

/** Refuses filter fields the channel cannot apply, and an upside-down bounding box. */
export function checkFilter(channel: Channel, filter: StreamFilter | undefined): void {
  if (!filter) return;
  const misplaced: string[] = [];
  if (!channel.sensorFilters)
    for (const field of ['sensorIds', 'tags', 'bbox'] as const) if (filter[field]) misplaced.push(field);
  if (!channel.metricFilter && filter.metrics) misplaced.push('metrics');
  if (misplaced.length > 0) {
    throw new StreamError(
      'VALIDATION_FAILED',
      `the ${channel.name} channel has no ${misplaced.join(', ')} filter`,
      misplaced.map((field) => ({ path: `/filter/${field}`, message: 'not applicable to this channel' })),
    );
  }
  if (filter.bbox && filter.bbox[1] > filter.bbox[3]) {
    throw new StreamError('VALIDATION_FAILED', 'bbox is [minLon, minLat, maxLon, maxLat]', [
      { path: '/filter/bbox', message: 'minLat is above maxLat' },
    ]);
  }
}

/** The subscription id of a message that failed its checks, when it names one. */
export function idOf(raw: unknown): string | undefined {
  const id = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined;
  return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : undefined;
}

/** The `exp` of a JWT the verifier accepted, in epoch ms. */
export function expiryOf(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
    exp?: number;
  };
  return typeof payload.exp === 'number' ? payload.exp * 1_000 : Number.POSITIVE_INFINITY;
}
