import { createPublisher, type DeadLetter, dlq, type Reading, readings } from '@sensormesh/bus';
import type { Logger } from '@sensormesh/log';
import { Counter, metric, type Registry } from '@sensormesh/metrics';
import type Redis from 'ioredis';

/** How many writes share one Redis pipeline, and how long the first may wait for company. */
export interface PipelineOptions {
  maxBatch: number;
  maxWaitMs: number;
}

/**
 * Every way in (MQTT, HTTP, adapters) hands readings here. Writes from many devices share one
 * Redis pipeline (up to maxBatch, waiting at most maxWaitMs), and each caller's promise resolves
 * with its stream id only once Redis has it: that is when MQTT may PUBACK and HTTP answer 202.
 */
export function ingestPipeline(
  redis: Redis,
  options: PipelineOptions & { logger: Logger; registry: Registry },
) {
  const publisher = createPublisher(redis, { registry: options.registry, logger: options.logger });
  const accepted = metric(
    options.registry,
    'ingest_readings_accepted_total',
    (registers) =>
      new Counter({
        name: 'ingest_readings_accepted_total',
        help: 'Readings put on the stream',
        labelNames: ['source'],
        registers,
      }),
  );
  const rejected = metric(
    options.registry,
    'ingest_rejections_total',
    (registers) =>
      new Counter({
        name: 'ingest_rejections_total',
        help: 'Readings or fields refused, by source and reason',
        labelNames: ['source', 'code'],
        registers,
      }),
  );

  /** Messages bound for one Redis pipeline; `stored` settles once Redis answered for all of them. */
  interface Batch<T> {
    messages: T[];
    stored: Promise<string[]>;
    resolve: (ids: string[]) => void;
    reject: (error: unknown) => void;
  }

  function batcher<T extends Reading | DeadLetter>(send: (messages: T[]) => Promise<string[]>) {
    let open: Batch<T> | undefined;
    let timer: Timer | undefined;
    let inFlight = Promise.resolve();

    function openBatch(): Batch<T> {
      const batch = { messages: [] as T[] } as unknown as Batch<T>;
      batch.stored = new Promise<string[]>((resolve, reject) => {
        batch.resolve = resolve;
        batch.reject = reject;
      });
      return batch;
    }

    function flush(): Promise<void> {
      if (timer) clearTimeout(timer);
      timer = undefined;
      const batch = open;
      open = undefined;
      if (!batch) return inFlight;
      inFlight = send(batch.messages).then(batch.resolve, batch.reject);
      return inFlight;
    }

    /** Queues a message; returns its batch and its place there. */
    function add(message: T): { batch: Batch<T>; index: number } {
      open ??= openBatch();
      const batch = open;
      const index = batch.messages.push(message) - 1;
      if (batch.messages.length >= options.maxBatch) void flush();
      else timer ??= setTimeout(flush, options.maxWaitMs);
      return { batch, index };
    }

    return {
      /** Resolves with the message's id once Redis has it. */
      push(message: T): Promise<string> {
        const { batch, index } = add(message);
        return batch.stored.then((ids) => ids[index] as string);
      },
      /** The batch's own promise: no promise per message, and every message of a batch gets the same one. */
      join(message: T): Promise<unknown> {
        return add(message).batch.stored;
      },
      flush,
    };
  }

  /** Counted per flush, not per reading: a labelled inc hashes its labels every call. */
  function countAccepted(messages: readonly Reading[]): void {
    let source = messages[0]?.source;
    let run = 0;
    for (const message of messages) {
      if (message.source !== source) {
        accepted.inc({ source }, run);
        source = message.source;
        run = 0;
      }
      run++;
    }
    if (run > 0) accepted.inc({ source }, run);
  }

  const readingQueue = batcher<Reading>((messages) => {
    countAccepted(messages);
    return publisher.publishBatch(readings, messages);
  });
  const letterQueue = batcher<DeadLetter>((messages) => publisher.publishBatch(dlq, messages));

  return {
    /** Puts a validated reading on the `readings` stream; resolves with its id once Redis has it. */
    accept(reading: Reading): Promise<string> {
      return readingQueue.push(reading);
    },
    /**
     * `accept` without the id: resolves once Redis has the reading, with the same promise for every
     * reading of one Redis pipeline, so a caller handling many (MQTT) can wait once per batch.
     */
    acceptShared(reading: Reading): Promise<unknown> {
      return readingQueue.join(reading);
    },
    /** Puts a refused message on the `dlq` stream with its reason; resolves once Redis has it. */
    deadLetter(letter: DeadLetter, code: string): Promise<string> {
      rejected.inc({ source: letter.source, code });
      return letterQueue.push(letter);
    },
    /** Counts refused fields that travel back to the caller (HTTP) instead of the dlq. */
    countRejections(source: string, codes: readonly string[]): void {
      for (const code of codes) rejected.inc({ source, code });
    },
    /** Sends whatever is queued and waits for it. */
    async flush(): Promise<void> {
      await Promise.all([readingQueue.flush(), letterQueue.flush()]);
    },
  };
}

/** The ingest pipeline. */
export type IngestPipeline = ReturnType<typeof ingestPipeline>;
