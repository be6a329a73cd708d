import { AppError } from '@sensormesh/errors';
import { type SensorInfo, type ValidationLimits, validateReading } from '@sensormesh/readings';
import type { IngestContext } from '../../context.ts';
import type { FieldRejection, ItemResult } from './model.ts';

/** The clock and limits readings are judged against now. */
export function validationLimits(ctx: IngestContext, now = Date.now()): ValidationLimits {
  return {
    now,
    maxAgeMs: ctx.config.INGEST_RETENTION_DAYS * 86_400_000,
    maxAheadMs: ctx.config.INGEST_MAX_AHEAD_MS,
  };
}

/** The sensor's validation metadata; 401 when it vanished (retired) between auth and now. */
export async function sensorInfo(ctx: IngestContext, sensorId: string): Promise<SensorInfo> {
  const info = await ctx.directory.get(sensorId);
  if (!info) throw new AppError('UNAUTHORIZED', 'unknown sensor or wrong device key');
  return info;
}

/**
 * The common path of every HTTP way in (plain ingest and vendor pushes): judges each item field by
 * field, puts what survived on the `readings` stream and resolves only once Redis holds all of it,
 * so a 202 built from the result never acknowledges a reading that could still be lost. Refused
 * fields are counted, not dead-lettered: the caller gets them back in the response.
 */
export async function acceptItems(
  ctx: IngestContext,
  sensor: SensorInfo,
  items: readonly unknown[],
  source: string,
  extra: ReadonlyMap<number, readonly FieldRejection[]> = new Map(),
): Promise<ItemResult[]> {
  const limits = validationLimits(ctx);
  const judged = items.map((item) => validateReading(item, sensor, limits, source));
  const codes = [...extra.values(), ...judged.map((result) => result.rejected)].flatMap((list) =>
    list.map((rejection) => rejection.code),
  );
  if (codes.length > 0) ctx.pipeline.countRejections(source, codes);
  let ids: Array<string | undefined>;
  try {
    ids = await Promise.all(
      judged.map((result) => (result.reading ? ctx.pipeline.accept(result.reading) : undefined)),
    );
  } catch (error) {
    // Some items may be in the stream already; a retry duplicates nothing (the writer is idempotent).
    throw new AppError('UNAVAILABLE', 'the readings stream is unreachable; retry later', { cause: error });
  }
  return judged.map((result, index) => {
    const rejected = [...(extra.get(index) ?? []), ...result.rejected];
    const id = ids[index];
    if (id === undefined) return { index, status: 'rejected', rejected };
    return { index, status: rejected.length > 0 ? 'partial' : 'accepted', id, rejected };
  });
}

/** Totals for the 202 body. */
export function summarize(results: ItemResult[]) {
  const rejected = results.filter((result) => result.status === 'rejected').length;
  return { accepted: results.length - rejected, rejected, results };
}
