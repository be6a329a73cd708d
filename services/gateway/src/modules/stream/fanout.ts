import type { GatewayContext } from '../../context.ts';

/** A running fan-out. */
export interface StreamFanout {
  /** Stops reading, then closes every socket with 1001. */
  stop(): Promise<void>;
}

/** Overrides for tests and benchmarks. */
export interface FanoutOptions {
  /** Entries per stream per read (default 1,000). */
  count?: number;
  /** How long a read blocks when nothing is new (default 1 s); stop() unblocks it at once. */
  blockMs?: number;
}

/**
 * Starts this replica's fan-out: one connection reads every channel's stream with plain XREAD
 * (not a consumer group: every replica must see every entry, so any replica serves any client)
 * from the newest entry at start, and hands each batch to the hub, which publishes it on Bun topics.
 */
export async function startStreamFanout(
  ctx: GatewayContext,
  options: FanoutOptions = {},
): Promise<StreamFanout> {
  const hub = ctx.streams;
  if (hub.running) throw new Error('the stream fan-out is already running');
  const { count = 1_000, blockMs = 1_000 } = options;
  const log = ctx.logger.child({ module: 'stream-fanout' });
  const names = hub.streamNames();
  const connection = ctx.redis.duplicate();
  connection.on('error', (error) => log.warn({ err: error }, 'redis connection error'));
  let clientId = (await connection.client('ID')) as number;
  connection.on('ready', () => {
    connection.client('ID').then(
      (id) => (clientId = id as number),
      () => undefined,
    );
  });

  const newest = connection.pipeline();
  for (const name of names) newest.xrevrange(name, '+', '-', 'COUNT', 1);
  const replies = (await newest.exec()) ?? [];
  const positions = new Map<string, string>();
  names.forEach((name, index) => {
    const [error, entries] = replies[index] ?? [null, []];
    if (error) throw error;
    positions.set(name, (entries as Array<[string, string[]]>)[0]?.[0] ?? '0-0');
  });
  hub.start(positions);
  log.info({ streams: Object.fromEntries(positions) }, 'stream fan-out started');

  let stopping = false;
  let reading = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    let delayMs = 0;
    while (!stopping) {
      try {
        reading = true;
        const reply = (await connection.xread(
          'COUNT',
          count,
          'BLOCK',
          blockMs,
          'STREAMS',
          ...names,
          ...names.map((name) => hub.position(name)),
        )) as Array<[string, Array<[string, string[]]>]> | null;
        reading = false;
        if (reply) for (const [stream, entries] of reply) hub.dispatch(stream, entries);
        delayMs = 0;
      } catch (error) {
        reading = false;
        if (stopping) break;
        delayMs = Math.min(Math.max(delayMs * 2, 100), 5_000);
        log.error({ err: error, retryInMs: delayMs }, 'stream fan-out read failed; retrying');
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, delayMs);
        });
      }
    }
  })();

  return {
    async stop() {
      if (stopping) return;
      stopping = true;
      wake?.();
      // A blocked read returns empty at once (delivering nothing), so the loop ends now.
      if (reading) await ctx.redis.client('UNBLOCK', clientId).catch(() => 0);
      await loop;
      hub.stop();
      await connection.quit().catch(() => connection.disconnect());
      log.info('stream fan-out stopped');
    },
  };
}
