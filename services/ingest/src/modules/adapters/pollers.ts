import type { IngestContext } from '../../context.ts';
import { openAqPoller } from './openaq.ts';
import { type PullAdapter, startPoller } from './poller.ts';
import { purpleAirPoller } from './purpleair.ts';
import { parseSensorMap } from './vendor-values.ts';

/** The pull adapters the configuration asks for (an API key and a sensor map each); none by default. */
export function configuredPollers(ctx: IngestContext): PullAdapter[] {
  const config = ctx.config;
  const timeoutMs = config.POLL_TIMEOUT_MS;
  const pollers: PullAdapter[] = [];
  const purpleAir = parseSensorMap(config.PURPLEAIR_SENSORS);
  if (config.PURPLEAIR_API_KEY && purpleAir.size > 0) {
    pollers.push(
      purpleAirPoller(ctx, {
        baseUrl: config.PURPLEAIR_BASE_URL,
        apiKey: config.PURPLEAIR_API_KEY,
        sensors: purpleAir,
        intervalMs: config.PURPLEAIR_INTERVAL_S * 1_000,
        timeoutMs,
      }),
    );
  }
  const openAq = parseSensorMap(config.OPENAQ_SENSORS);
  if (config.OPENAQ_API_KEY && openAq.size > 0) {
    pollers.push(
      openAqPoller(ctx, {
        baseUrl: config.OPENAQ_BASE_URL,
        apiKey: config.OPENAQ_API_KEY,
        sensors: openAq,
        intervalMs: config.OPENAQ_INTERVAL_S * 1_000,
        timeoutMs,
        lookbackMs: config.OPENAQ_LOOKBACK_H * 3_600_000,
      }),
    );
  }
  return pollers;
}

/** Starts the configured pollers; `stop` aborts them and waits until each loop has ended. */
export function startPollers(ctx: IngestContext): { names: string[]; stop(): Promise<void> } {
  const backoff = { baseMs: ctx.config.POLL_BACKOFF_BASE_MS, maxMs: ctx.config.POLL_BACKOFF_MAX_MS };
  const adapters = configuredPollers(ctx);
  const running = adapters.map((adapter) => startPoller(adapter, { logger: ctx.logger, backoff }));
  return {
    names: adapters.map((adapter) => adapter.name),
    async stop() {
      await Promise.all(running.map((poller) => poller.stop()));
    },
  };
}
