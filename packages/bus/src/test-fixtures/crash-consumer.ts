// Child process for the crash test: consumes normally, but in its third batch applies the effect
// of half the messages, tells the parent, and hangs without acking until SIGKILL.

import { defineStream } from '../catalogue.ts';
import { createConsumer } from '../consumer.ts';
import { Reading } from '../streams.ts';
import { applyOnce, connect } from './helpers.ts';

const { REDIS_URL = '', STREAM = '', GROUP = 'g', SINK = '' } = process.env;
const stream = defineStream({
  name: STREAM,
  schema: Reading,
  groups: [GROUP],
  retry: { maxAttempts: 5, backoffMs: 10 },
  trim: {},
});
const redis = connect(REDIS_URL);
let batches = 0;

const consumer = createConsumer(redis, {
  stream,
  group: GROUP,
  consumer: 'doomed',
  batchSize: 50,
  async handler(messages) {
    batches += 1;
    if (batches < 3)
      return applyOnce(
        redis,
        SINK,
        messages.map((m) => m.id),
      );
    await applyOnce(
      redis,
      SINK,
      messages.slice(0, messages.length / 2).map((m) => m.id),
    );
    process.stdout.write(`in-batch ${messages.length}\n`);
    await new Promise(() => {}); // hang: the parent kills us here
  },
});
await consumer.start();
process.stdout.write('started\n');
