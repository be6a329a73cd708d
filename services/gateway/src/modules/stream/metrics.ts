import { Counter, Gauge, metric, type Registry } from '@sensormesh/metrics';

/** The stream module's Prometheus metrics (shared by every hub of a process). */
export function streamMetrics(registry: Registry) {
  return {
    connections: metric(
      registry,
      'gateway_ws_connections',
      (registers) => new Gauge({ name: 'gateway_ws_connections', help: 'Open WebSocket streams', registers }),
    ),
    subscriptions: metric(
      registry,
      'gateway_ws_subscriptions',
      (registers) =>
        new Gauge({
          name: 'gateway_ws_subscriptions',
          help: 'Subscriptions (replaying or live) by channel',
          labelNames: ['channel'],
          registers,
        }),
    ),
    deliveries: metric(
      registry,
      'gateway_ws_deliveries_total',
      (registers) =>
        new Counter({
          name: 'gateway_ws_deliveries_total',
          help: 'Event frames sent to sockets: live (fan-out) or replay',
          labelNames: ['channel', 'mode'],
          registers,
        }),
    ),
    closes: metric(
      registry,
      'gateway_ws_closes_total',
      (registers) =>
        new Counter({
          name: 'gateway_ws_closes_total',
          help: 'Sockets closed, by reason (client, slow, heartbeat, token_expired, too_many_connections, …)',
          labelNames: ['reason'],
          registers,
        }),
    ),
    invalid: metric(
      registry,
      'gateway_ws_invalid_entries_total',
      (registers) =>
        new Counter({
          name: 'gateway_ws_invalid_entries_total',
          help: 'Stream entries that failed their schema and were not sent',
          labelNames: ['channel'],
          registers,
        }),
    ),
    lag: metric(
      registry,
      'gateway_ws_fanout_lag_ms',
      (registers) =>
        new Gauge({
          name: 'gateway_ws_fanout_lag_ms',
          help: 'Age of the newest entry the fan-out published, by stream',
          labelNames: ['stream'],
          registers,
        }),
    ),
  };
}

/** The stream module's metrics. */
export type StreamMetrics = ReturnType<typeof streamMetrics>;
