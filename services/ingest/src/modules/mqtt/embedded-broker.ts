import { createServer } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { IngestContext } from '../../context.ts';
import { type MqttIngest, mqttIngest } from './service.ts';

/** How often live devices' keys are checked again, so a rotated or revoked key loses its connection. */
export const REAUTH_INTERVAL_MS = 30_000;

/** CONNACK return codes of MQTT 3.1.1. */
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;

interface Device {
  sensorId: string;
  key: string;
}

/** A running embedded broker. */
export interface EmbeddedBroker {
  readonly port: number;
  stop(): Promise<void>;
}

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * The default mode's MQTT broker (aedes). Devices log in with username = sensor id and password =
 * device key, may publish only to `sensors/{their id}/readings` and subscribe only under
 * `sensors/{their id}/`. Readings are ingested inside `authorizePublish`, which aedes runs before it
 * writes the PUBACK: a QoS 1 message is acknowledged only once it is in Redis.
 */
export async function startEmbeddedBroker(
  ctx: IngestContext,
  options: { host?: string; port?: number; reauthIntervalMs?: number } = {},
): Promise<EmbeddedBroker> {
  const log = ctx.logger.child({ module: 'mqtt', mode: 'embedded' });
  const handler: MqttIngest = mqttIngest(ctx);
  const devices = new Map<Client, Device>();
  // Payloads that came from devices: they are ours to ingest, never forwarded to any subscriber.
  const fromDevices = new WeakSet<Buffer>();
  const inFlight = new Set<Promise<unknown>>();
  let stopping = false;

  const broker = new Aedes({
    authenticate: function authenticate(client, username, password, done) {
      if (stopping) return done(authError('shutting down', SERVER_UNAVAILABLE), false);
      if (!username || !password) {
        return done(authError('sensor id and device key required', BAD_USERNAME_OR_PASSWORD), false);
      }
      const key = password.toString('utf8');
      ctx.sensors.verifyDeviceKey(username, key).then(
        (valid) => {
          if (!valid) {
            log.warn(
              { sensorId: username, clientId: client.id },
              'device refused: unknown sensor or wrong key',
            );
            return done(authError('unknown sensor or wrong device key', BAD_USERNAME_OR_PASSWORD), false);
          }
          // Client ids are namespaced by sensor, so a device can never take over another's session.
          client.id = `${username}:${client.id}`;
          devices.set(client, { sensorId: username, key });
          done(null, true);
        },
        (error: unknown) => {
          log.error({ err: error, sensorId: username }, 'device key check failed');
          done(authError('registry unavailable', SERVER_UNAVAILABLE), false);
        },
      );
    },
    authorizePublish: function authorizePublish(client, packet, done) {
      const device = client ? devices.get(client) : undefined;
      if (!device || stopping) return done(new Error(stopping ? 'shutting down' : 'not a device'));
      fromDevices.add(packet.payload as Buffer);
      packet.retain = false;
      const work = handler.ingest(packet.topic, packet.payload as Buffer, device.sensorId);
      inFlight.add(work);
      // Only now may aedes write the PUBACK; an error closes the connection unacknowledged instead.
      work.then(
        () => {
          inFlight.delete(work);
          done(null);
        },
        (error: unknown) => {
          inFlight.delete(work);
          log.error({ err: error, sensorId: device.sensorId }, 'ingest failed; message left unacknowledged');
          done(error as Error);
        },
      );
    },
    authorizeSubscribe: function authorizeSubscribe(client, subscription, done) {
      const device = devices.get(client);
      const own = device && subscription.topic.startsWith(`sensors/${device.sensorId}/`);
      // null refuses this one subscription (SUBACK 0x80) and keeps the connection.
      done(null, own ? subscription : null);
    },
    authorizeForward: function authorizeForward(_client, packet) {
      return fromDevices.has(packet.payload as Buffer) ? null : packet;
    },
  });
  broker.on('clientDisconnect', (client) => devices.delete(client));
  broker.on('clientError', (client, error) => log.debug({ clientId: client.id, err: error }, 'client error'));
  await broker.listen();

  // A rotated key fails at once for new connections (verifyDeviceKey is never cached locally);
  // live connections are checked again on this interval and closed when their key stopped working.
  const reauth = setInterval(async function recheckDevices() {
    for (const [client, device] of [...devices]) {
      const valid = await ctx.sensors.verifyDeviceKey(device.sensorId, device.key).catch(() => true);
      if (!valid && devices.has(client)) {
        log.info({ sensorId: device.sensorId }, 'device key no longer valid; disconnecting');
        devices.delete(client);
        client.close();
      }
    }
  }, options.reauthIntervalMs ?? REAUTH_INTERVAL_MS);
  reauth.unref();

  const server = createServer(broker.handle);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? ctx.config.MQTT_PORT, options.host ?? ctx.config.MQTT_HOST, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  log.info({ host: options.host ?? ctx.config.MQTT_HOST, port }, 'embedded MQTT broker listening');

  return {
    port,
    async stop() {
      stopping = true;
      clearInterval(reauth);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Publishes already being ingested finish and get their PUBACK before clients are dropped.
      await Promise.allSettled([...inFlight]);
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await closed;
      log.info('embedded MQTT broker stopped');
    },
  };
}
