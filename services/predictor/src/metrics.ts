import { Counter, Gauge, Histogram, metric, type Registry } from '@sensormesh/metrics';

/** The predictor's Prometheus metrics; shared by every predictor in the process. */
export function predictorMetrics(registry: Registry) {
  const counter = (name: string, help: string, labelNames: string[] = []) =>
    metric(registry, name, (registers) => new Counter({ name, help, labelNames, registers }));
  return {
    hoursClosed: counter('predictor_hours_closed_total', 'Sensor-hours closed and scored', ['trigger']),
    forecasts: counter('predictor_forecasts_total', 'Sensor-hours forecast by the active model'),
    skipped: counter('predictor_skipped_total', 'Sensor-hours with no forecast, by reason', ['reason']),
    anomalies: counter('predictor_anomalies_total', 'Faults flagged, by kind', ['kind']),
    faultShadow: counter(
      'predictor_fault_shadow_total',
      'Sensor-metric-hours flagged while a fault shadow ran: by both, the active only, the shadow only',
      ['outcome'],
    ),
    late: counter(
      'predictor_late_readings_total',
      'Readings of an hour already scored (stored, not re-scored)',
    ),
    failures: counter(
      'predictor_scoring_failures_total',
      'Scoring passes that failed; their hours are scored again after PREDICTOR_RETRY_MS',
    ),
    abandoned: counter(
      'predictor_hours_abandoned_total',
      'Closed sensor-hours given up after PREDICTOR_MAX_ATTEMPTS retries: no output',
    ),
    sensors: metric(
      registry,
      'predictor_sensors',
      (registers) =>
        new Gauge({ name: 'predictor_sensors', help: 'Sensors with hourly history in memory', registers }),
    ),
    scoreSeconds: metric(
      registry,
      'predictor_score_duration_seconds',
      (registers) =>
        new Histogram({
          name: 'predictor_score_duration_seconds',
          help: 'From hours closing to their outputs on the streams, per scoring pass',
          buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
          registers,
        }),
    ),
  };
}
