import {
  type AlertEvent,
  type Anomaly,
  alerts,
  anomalies,
  type ExportProgress,
  exportProgress,
  type MessageOf,
  type Prediction,
  predictions,
  type Reading,
  readings,
  type StreamDef,
} from '@sensormesh/bus';
import type { Principal } from '../access/model.ts';
import { type Archive, anomaliesArchive, predictionsArchive, readingsArchive } from './archive.ts';
import type { ChannelName } from './model.ts';

/**
 * Who an event is for. An event is published under each of its audiences, a subscriber listens
 * under each of its own; they are chosen so no subscriber holds two audiences of one event.
 */
const PUBLIC = 'public';
const USERS = 'users';
const ADMINS = 'admins';
const userAudience = (userId: string) => `user:${userId}`;

/** One WebSocket channel: the stream behind it, who may subscribe, who sees which event, how filters apply. */
export interface Channel<E = unknown> {
  readonly name: ChannelName;
  readonly stream: StreamDef;
  /** `user`: only signed-in users may subscribe. */
  readonly access: 'public' | 'user';
  /** Whether sensorIds / tags / bbox apply (events name a sensor). */
  readonly sensorFilters: boolean;
  /** Whether `metrics` applies. */
  readonly metricFilter: boolean;
  /**
   * Where entries the stream trimmed are replayed from (ClickHouse, by their stored entry id);
   * absent: a cursor the stream trimmed past is GONE.
   */
  readonly archive?: Archive;
  sensorOf(event: E): string | undefined;
  /** The audiences an event is published to. */
  audiencesOf(event: E): readonly string[];
  /** The audiences a subscriber receives (empty: it may see nothing). */
  audiencesFor(principal: Principal): readonly string[];
  /** The event as a `metrics` filter shows it, or undefined when nothing of it matches. */
  project(event: E, metrics: ReadonlySet<string>): E | undefined;
}

type Spec<D extends StreamDef> = Omit<Channel<MessageOf<D>>, 'stream'> & { stream: D };

function channel<D extends StreamDef>(spec: Spec<D>): Channel {
  return spec as unknown as Channel;
}

const everyone = () => [PUBLIC];
const signedIn = (principal: Principal) => (principal.kind === 'public' ? [] : [USERS]);
/** Matches events that name one metric. */
const byMetric = <E extends { metric?: string }>(event: E, metrics: ReadonlySet<string>) =>
  event.metric === undefined || metrics.has(event.metric) ? event : undefined;

/** Keeps a reading's listed metrics; undefined when it has none of them. */
function pickMetrics(reading: Reading, metrics: ReadonlySet<string>): Reading | undefined {
  let kept: Record<string, number> | undefined;
  for (const name in reading.metrics) {
    if (!metrics.has(name)) continue;
    kept ??= {};
    kept[name] = reading.metrics[name] as number;
  }
  return kept ? { ...reading, metrics: kept } : undefined;
}

/** The channel table: name → stream, access, visibility and filters. */
export const CHANNELS: ReadonlyMap<ChannelName, Channel> = new Map(
  [
    channel({
      name: 'readings',
      stream: readings,
      access: 'public',
      sensorFilters: true,
      metricFilter: true,
      archive: readingsArchive,
      sensorOf: (event: Reading) => event.sensorId,
      audiencesOf: everyone,
      audiencesFor: everyone,
      project: pickMetrics,
    }),
    channel({
      name: 'predictions',
      stream: predictions,
      access: 'public',
      sensorFilters: true,
      metricFilter: true,
      archive: predictionsArchive,
      sensorOf: (event: Prediction) => event.sensorId,
      // A shadow candidate's forecasts are for the admins comparing it, never for the public:
      // to everyone else a forecast is the active model's.
      audiencesOf: (event: Prediction) => (event.role === 'shadow' ? [ADMINS] : [PUBLIC]),
      audiencesFor: (principal: Principal) =>
        principal.kind !== 'public' && principal.role === 'admin' ? [PUBLIC, ADMINS] : [PUBLIC],
      project: byMetric,
    }),
    channel({
      name: 'anomalies',
      stream: anomalies,
      access: 'user',
      sensorFilters: true,
      metricFilter: true,
      archive: anomaliesArchive,
      sensorOf: (event: Anomaly) => event.sensorId,
      audiencesOf: () => [USERS],
      audiencesFor: signedIn,
      project: byMetric,
    }),
    channel({
      name: 'alerts',
      stream: alerts,
      access: 'user',
      // No archive: nothing produces alerts yet and no table stores them, so a trimmed cursor is GONE.
      sensorFilters: true,
      metricFilter: true,
      sensorOf: (event: AlertEvent) => event.sensorId,
      // An owner-only alert goes to its owner and to the admins (who never hold a user:… audience).
      audiencesOf: (event: AlertEvent) =>
        event.visibility === 'all'
          ? [USERS]
          : event.ownerId
            ? [userAudience(event.ownerId), ADMINS]
            : [ADMINS],
      audiencesFor: (principal: Principal) =>
        principal.kind === 'public'
          ? []
          : principal.role === 'admin'
            ? [USERS, ADMINS]
            : [USERS, userAudience(principal.userId)],
      project: byMetric,
    }),
    channel({
      name: 'exports',
      stream: exportProgress,
      access: 'user',
      // No archive: progress is transient; the job itself is stored (GET /data/export/jobs/:id).
      sensorFilters: false,
      metricFilter: false,
      sensorOf: () => undefined,
      // Export progress is its owner's alone, admins included.
      audiencesOf: (event: ExportProgress) => [userAudience(event.userId)],
      audiencesFor: (principal: Principal) =>
        principal.kind === 'public' ? [] : [userAudience(principal.userId)],
      project: (event: ExportProgress) => event,
    }),
  ].map((entry) => [entry.name, entry]),
);
