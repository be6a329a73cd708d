import type Redis from 'ioredis';

/**
 * Resolves once the writer has stored `ts` as the sensor's newest PM2.5 in Redis (its latest
 * values follow the insert into ClickHouse, so the reading is stored by then). Waits on keyspace
 * notifications (`notify-keyspace-events` must include `Kh`) through `watcher`, a connection of
 * its own, never on a timer.
 */
export async function latestWritten(
  redis: Redis,
  watcher: Redis,
  sensorId: string,
  ts: number,
): Promise<void> {
  const key = `latest:sensor:${sensorId}`;
  const done = async () => {
    const field = await redis.hget(key, 'pm25');
    return field !== null && (JSON.parse(field) as { ts: number }).ts === ts;
  };
  let onMessage: (() => void) | undefined;
  const notified = new Promise<void>((resolve) => {
    onMessage = async () => {
      if (await done()) resolve();
    };
    watcher.on('message', onMessage);
  });
  await watcher.subscribe(`__keyspace@0__:${key}`);
  if (!(await done())) await notified;
  await watcher.unsubscribe();
  if (onMessage) watcher.off('message', onMessage);
}
