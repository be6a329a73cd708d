import { AppError } from '@sensormesh/errors';
import { Elysia } from 'elysia';
import type { GatewayContext } from '../../context.ts';
import { clientIp } from '../access/client-ip.ts';
import type { Socket } from './session.ts';

// Elysia types `ws.raw` with its own copy of Bun's ServerWebSocket, which predates
// getBufferedAmount; the object is Bun's own and has it. Elysia's ping/pong handlers get the raw
// socket itself rather than its wrapper.
const socket = (ws: object) => ('raw' in ws ? ws.raw : ws) as Socket;

/**
 * `GET /api/v1/stream` (WebSocket): resumable subscriptions to readings, predictions, anomalies,
 * alerts and export progress. The protocol is in PROTOCOL.md; the work is in the hub.
 */
export function streamModule(ctx: GatewayContext) {
  const hub = ctx.streams;
  const trustProxy = ctx.config.TRUST_PROXY;
  return (
    new Elysia({ name: 'sensormesh.gateway.stream' })
      // A plain GET (no Upgrade header) learns what the route is rather than meeting a 404.
      .get(
        '/stream',
        () => {
          throw new AppError(
            'BAD_REQUEST',
            'this endpoint is a WebSocket: connect with "Upgrade: websocket" (services/gateway/src/modules/stream/PROTOCOL.md)',
          );
        },
        { detail: { hide: true, 'x-role': 'public' } as Record<string, unknown> },
      )
      .ws('/stream', {
        // OpenAPI cannot describe a WebSocket; the route still declares its role for the security table.
        detail: {
          hide: true,
          summary: 'Resumable WebSocket streams (modules/stream/PROTOCOL.md)',
          'x-role': 'public',
        } as Record<string, unknown>,
        beforeHandle({ server }) {
          if (server) hub.attachServer(server);
        },
        open(ws) {
          const { request, query } = ws.data;
          const ip = clientIp(request, { requestIP: () => ({ address: ws.remoteAddress }) }, trustProxy);
          const token = (query as Record<string, unknown>).token;
          hub.open(socket(ws), ip, typeof token === 'string' && token.length > 0 ? token : undefined);
        },
        message(ws, message) {
          hub.message(socket(ws), message);
        },
        drain(ws) {
          hub.drain(socket(ws));
        },
        pong(ws) {
          hub.pong(socket(ws));
        },
        close(ws) {
          hub.closed(socket(ws));
        },
      })
  );
}
