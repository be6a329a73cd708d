/**
 * The bench-predict reader, in a worker thread of its own so reading and parsing the forecasts
 * does not run on the predictor's event loop: XREAD on `predictions`, and for every PM2.5 forecast
 * the moment its entry arrived (performance.timeOrigin + now, comparable across threads).
 */
import Redis from 'ioredis';

declare const self: Worker;

self.onmessage = async (event: MessageEvent<{ redisUrl: string }>) => {
  const redis = new Redis(event.data.redisUrl);
  let cursor = '0';
  let running = true;
  self.onmessage = () => {
    running = false;
  };
  while (running) {
    const reply = (await redis.xread('COUNT', 20_000, 'BLOCK', 100, 'STREAMS', 'predictions', cursor)) as
      | [string, [string, string[]][]][]
      | null;
    const at = performance.timeOrigin + performance.now();
    const seen: string[] = [];
    for (const [, entries] of reply ?? []) {
      for (const [id, fields] of entries) {
        cursor = id;
        const message = JSON.parse(fields[1] as string) as { sensorId: string; ts: number; metric: string };
        if (message.metric === 'pm25') seen.push(`${message.sensorId}@${message.ts}`);
      }
    }
    if (seen.length > 0) self.postMessage({ at, seen });
  }
  redis.disconnect();
  self.postMessage({ done: true });
};
