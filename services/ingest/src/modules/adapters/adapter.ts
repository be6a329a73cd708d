import type { Reading } from '@sensormesh/bus';
import { validateReading } from '@sensormesh/readings';
import type { IngestContext } from '../../context.ts';
import { validationLimits } from '../http/service.ts';

/** A vendor field that was not turned into a metric, and why (unmapped, sentinel, not a number …). */
export interface Problem {
  field: string;
  code: string;
  message: string;
  /** Which reading of the result it belongs to, when it belongs to one. */
  reading?: number;
}

/** A reading in canonical metrics and units, for a registered sensor. */
export interface VendorReading {
  sensorId: string;
  ts: number;
  metrics: Record<string, number>;
  /** The vendor's id of the device (for checkpoints and logs). */
  vendorId?: string;
}

/** What a parser makes of one payload; it never throws on any input. */
export interface ParseResult {
  readings: VendorReading[];
  problems: Problem[];
}

/** What a parser knows besides the payload. */
export interface ParseMeta {
  /** When the payload arrived (epoch ms): the timestamp of formats that send none. */
  receivedAt: number;
  /** The registered sensor for a vendor device id; push routes answer their authenticated sensor. */
  sensorFor(vendorId: string): string | undefined;
}

/**
 * A vendor format. Push adapters call `parse` from an HTTP route (after authenticating the
 * device); pull adapters from a poller. Either way the readings then take the common path:
 * validateReading per field, then the pipeline.
 */
export interface Adapter<M extends ParseMeta = ParseMeta> {
  /** The `source` readings carry on the bus, e.g. `adapter:purpleair`. */
  readonly source: string;
  parse(payload: unknown, meta: M): ParseResult;
}

/** What a pull adapter's submission did. */
export interface SubmitSummary {
  accepted: number;
  refused: number;
}

/**
 * The common path for pulled readings: validate each against its sensor, put the survivors on the
 * stream (awaited), and dead-letter every refusal with its reason, since no caller is there to be
 * told. Resolves once Redis has everything, so a checkpoint may advance after it.
 */
export async function submitPulled(
  ctx: IngestContext,
  parsed: ParseResult,
  source: string,
): Promise<SubmitSummary> {
  const limits = validationLimits(ctx);
  const at = limits.now;
  const writes: Array<Promise<string>> = [];
  let accepted = 0;
  let refused = 0;
  for (const reading of parsed.readings) {
    const sensor = await ctx.directory.get(reading.sensorId);
    const unknown = {
      field: 'sensorId',
      code: 'unknown_sensor',
      message: `${reading.sensorId} is not registered`,
    };
    const result: { reading?: Reading; rejected: Problem[] } = sensor
      ? validateReading(reading, sensor, limits, source)
      : { rejected: [unknown] };
    if (result.reading) {
      accepted += 1;
      writes.push(ctx.pipeline.accept(result.reading));
    } else refused += 1;
    const [first, ...rest] = result.rejected;
    if (!first) continue;
    ctx.pipeline.countRejections(
      source,
      rest.map((rejection) => rejection.code),
    );
    writes.push(
      ctx.pipeline.deadLetter(
        { source, reason: first.message, details: result.rejected, payload: JSON.stringify(reading), at },
        first.code,
      ),
    );
  }
  const [first, ...rest] = parsed.problems;
  if (first) {
    ctx.pipeline.countRejections(
      source,
      rest.map((problem) => problem.code),
    );
    writes.push(
      ctx.pipeline.deadLetter(
        {
          source,
          reason: first.message,
          details: parsed.problems,
          payload: JSON.stringify(parsed.problems),
          at,
        },
        first.code,
      ),
    );
  }
  await Promise.all(writes);
  return { accepted, refused };
}
