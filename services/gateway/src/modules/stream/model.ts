import { type Static, Type as t } from '@sinclair/typebox';

/** Close codes of the stream protocol (PROTOCOL.md). */
export const CloseCode = {
  /** The server is stopping (fan-out stopped): reconnect elsewhere with your last cursor. */
  GOING_AWAY: 1001,
  INTERNAL: 1011,
  /** The token is invalid, expired, revoked, or expired while connected. */
  UNAUTHORIZED: 4001,
  /** The socket fell more than STREAM_BUFFER_BYTES behind. */
  TOO_SLOW: 4008,
  /** Too many connections from this address. */
  TOO_MANY_CONNECTIONS: 4029,
} as const;

/** Channel names clients may subscribe to. */
export const CHANNEL_NAMES = ['readings', 'predictions', 'anomalies', 'alerts', 'exports'] as const;
export type ChannelName = (typeof CHANNEL_NAMES)[number];

/** A stream id "<ms>-<seq>" (or "<ms>"); both parts are 64-bit, checked after the pattern. */
export const Cursor = t.String({ pattern: '^[0-9]{1,20}(-[0-9]{1,20})?$', maxLength: 41 });

const Longitude = t.Number({ minimum: -180, maximum: 180 });
const Latitude = t.Number({ minimum: -90, maximum: 90 });

/** What a subscription narrows to; fields combine with AND. */
export const StreamFilter = t.Object(
  {
    sensorIds: t.Optional(
      t.Array(t.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 1_000 }),
    ),
    /** Readings keep only these metrics (and are skipped when none is left); other channels match on their metric. */
    metrics: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 64 })),
    /** Sensors carrying every one of these tags (sensor registry). */
    tags: t.Optional(t.Array(t.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 32 })),
    /** [minLon, minLat, maxLon, maxLat]; minLon > maxLon crosses the antimeridian. */
    bbox: t.Optional(t.Tuple([Longitude, Latitude, Longitude, Latitude])),
  },
  { additionalProperties: false },
);
export type StreamFilter = Static<typeof StreamFilter>;

const SubscriptionId = t.String({ minLength: 1, maxLength: 64 });

export const AuthMessage = t.Object(
  { type: t.Literal('auth'), token: t.String({ minLength: 1, maxLength: 4_096 }) },
  { additionalProperties: false },
);
export const SubscribeMessage = t.Object(
  {
    type: t.Literal('subscribe'),
    id: SubscriptionId,
    channel: t.String({ minLength: 1, maxLength: 64 }),
    filter: t.Optional(StreamFilter),
    since: t.Optional(Cursor),
  },
  { additionalProperties: false },
);
export const UnsubscribeMessage = t.Object(
  { type: t.Literal('unsubscribe'), id: SubscriptionId },
  { additionalProperties: false },
);
export const PingMessage = t.Object({ type: t.Literal('ping') }, { additionalProperties: false });

export type AuthMessage = Static<typeof AuthMessage>;
export type SubscribeMessage = Static<typeof SubscribeMessage>;
export type UnsubscribeMessage = Static<typeof UnsubscribeMessage>;
export type PingMessage = Static<typeof PingMessage>;
/** Any message a client may send. */
export type ClientMessage = AuthMessage | SubscribeMessage | UnsubscribeMessage | PingMessage;

/** Error codes of `error` frames: the REST error codes (packages/errors) that apply to a socket. */
export type StreamErrorCode =
  | 'BAD_REQUEST'
  | 'VALIDATION_FAILED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'GONE'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL';
