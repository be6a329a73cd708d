import type { IngestContext } from '../../context.ts';
import { startBrokerClient } from './broker-client.ts';
import { startEmbeddedBroker } from './embedded-broker.ts';

export { type BrokerClient, LEAVE_WRAP_UP_MS, startBrokerClient } from './broker-client.ts';
export { type EmbeddedBroker, startEmbeddedBroker } from './embedded-broker.ts';
export { mqttIngest, readingsTopic, sensorIdFromTopic } from './service.ts';

/** MQTT ingest, whichever way it runs. */
export interface MqttIngestHandle {
  /** 'client' of an external broker (MQTT_URL set) or the 'embedded' broker. */
  readonly mode: 'client' | 'embedded';
  /** Resolves once messages can flow (broker listening, or subscription granted). */
  readonly ready: Promise<void>;
  /** Takes no new message, finishes and acknowledges those in hand, then closes. */
  stop(): Promise<void>;
}

/** Starts MQTT ingest: a client of MQTT_URL when set, else the embedded broker on MQTT_HOST:MQTT_PORT. */
export async function startMqtt(ctx: IngestContext): Promise<MqttIngestHandle> {
  if (ctx.config.MQTT_URL) {
    const subscriber = startBrokerClient(ctx);
    return { mode: 'client', ready: subscriber.ready, stop: () => subscriber.stop() };
  }
  const broker = await startEmbeddedBroker(ctx);
  return { mode: 'embedded', ready: Promise.resolve(), stop: () => broker.stop() };
}
export {
  aclFile,
  type BrokerAccount,
  collectAccounts,
  parseKeyFile,
  passwordFile,
  passwordLine,
} from './mosquitto-auth.ts';
