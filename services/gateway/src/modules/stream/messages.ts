import { TypeCompiler } from '@sinclair/typebox/compiler';
import {
  AuthMessage,
  type ClientMessage,
  PingMessage,
  type StreamErrorCode,
  SubscribeMessage,
  UnsubscribeMessage,
} from './model.ts';

/** A client mistake (or a refusal) answered with an `error` frame; the socket stays open. */
export class StreamError extends Error {
  constructor(
    readonly code: StreamErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'StreamError';
  }
}

const CHECKS = {
  auth: TypeCompiler.Compile(AuthMessage),
  subscribe: TypeCompiler.Compile(SubscribeMessage),
  unsubscribe: TypeCompiler.Compile(UnsubscribeMessage),
  ping: TypeCompiler.Compile(PingMessage),
} as const;
const TYPES = Object.keys(CHECKS);

/**
 * Checks a client message as Elysia hands it over: JSON text it could parse arrives as a value,
 * anything else (malformed JSON, plain text, binary) as it came.
 */
export function parseClientMessage(raw: unknown): ClientMessage {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || ArrayBuffer.isView(raw)) {
    throw new StreamError('BAD_REQUEST', 'every message must be a JSON object, e.g. {"type":"ping"}');
  }
  const type = (raw as { type?: unknown }).type;
  if (typeof type !== 'string' || !(type in CHECKS)) {
    throw new StreamError('VALIDATION_FAILED', `"type" must be one of ${TYPES.join(', ')}`, [
      { path: '/type', message: 'unknown message type' },
    ]);
  }
  const check = CHECKS[type as keyof typeof CHECKS];
  if (check.Check(raw)) return raw as ClientMessage;
  const details = [...check.Errors(raw)]
    .slice(0, 10)
    .map((error) => ({ path: error.path, message: error.message }));
  throw new StreamError('VALIDATION_FAILED', `invalid ${type} message`, details);
}

const quote = JSON.stringify;

/** Server frames as JSON text (events are assembled from a prefix so the data is serialized once). */
export const frames = {
  subscribed: (id: string, channel: string, cursor: string) =>
    quote({ type: 'subscribed', id, channel, cursor }),
  replayed: (id: string, cursor: string) => quote({ type: 'replayed', id, cursor }),
  unsubscribed: (id: string) => quote({ type: 'unsubscribed', id }),
  authenticated: (userId: string, expiresAt: number) => quote({ type: 'authenticated', userId, expiresAt }),
  error: (code: StreamErrorCode, message: string, id?: string, details?: unknown) =>
    quote({
      type: 'error',
      ...(id === undefined ? {} : { id }),
      code,
      message,
      ...(details === undefined ? {} : { details }),
    }),
  pong: '{"type":"pong"}',
  /** Everything of an event frame before its cursor; `event()` completes it. */
  eventPrefix: (id: string, channel: string) =>
    `{"type":"event","id":${quote(id)},"channel":${quote(channel)},"cursor":"`,
  event: (prefix: string, cursor: string, dataJson: string) => `${prefix}${cursor}","data":${dataJson}}`,
};
