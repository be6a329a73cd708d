import { compareIds } from '@sensormesh/bus';
import type { Archive } from './archive.ts';
import type { Channel } from './channels.ts';
import { decodeEntry, nextId, prevId, splitId } from './entries.ts';
import type { StreamHub } from './hub.ts';
import { frames, StreamError } from './messages.ts';
import type { Session, Subscription } from './session.ts';

/** Stream entries per XRANGE page, and archived entries per ClickHouse page. */
const PAGE = 500;
/** Sensor lists longer than this are filtered here rather than in SQL (query-size bound). */
const SQL_SENSOR_LIMIT = 500;

/** What XINFO STREAM says about a stream. */
export interface StreamState {
  firstId: string | null;
  lastGeneratedId: string;
  /** Entries were deleted (trimmed) at some point: entries-added exceeds the length. */
  trimmedEver: boolean;
}

function parseInfo(reply: unknown): StreamState {
  const record: Record<string, unknown> = {};
  if (Array.isArray(reply))
    for (let i = 0; i + 1 < reply.length; i += 2) record[String(reply[i])] = reply[i + 1];
  const first = record['first-entry'];
  return {
    firstId: Array.isArray(first) ? String(first[0]) : null,
    lastGeneratedId: String(record['last-generated-id'] ?? '0-0'),
    trimmedEver: Number(record['entries-added'] ?? 0) > Number(record.length ?? 0),
  };
}

/** The stream's state, or null when it does not exist (nothing was ever added). */
export async function streamState(hub: StreamHub, stream: string): Promise<StreamState | null> {
  const reply = await hub.redis.xinfo('STREAM', stream).catch((error: Error) => {
    if (/no such key/i.test(error.message)) return null;
    throw error;
  });
  return reply === null ? null : parseInfo(reply);
}

/** One subscription's replay: the frames it sends and the checks it applies to each event. */
class Replayer {
  private readonly channel: Channel;
  private readonly audiences: readonly string[];
  private readonly prefix: string;
  private readonly metrics: ReadonlySet<string> | null;
  constructor(
    private readonly hub: StreamHub,
    private readonly session: Session,
    private readonly subscription: Subscription,
  ) {
    this.channel = subscription.channel;
    this.audiences = this.channel.audiencesFor(session.principal);
    this.prefix = frames.eventPrefix(subscription.id, this.channel.name);
    const metrics = subscription.filter?.metrics;
    this.metrics = metrics ? new Set(metrics) : null;
  }

  get active(): boolean {
    return this.subscription.state === 'replaying' && !this.session.closed;
  }

  /** Sends one event if the subscription wants it, pacing on the socket's queue. */
  async offer(cursor: string, event: unknown, raw: string | undefined): Promise<void> {
    const sensors = this.subscription.sensors;
    if (sensors) {
      const sensor = this.channel.sensorOf(event);
      if (sensor === undefined || !sensors.has(sensor)) return;
    }
    if (!this.channel.audiencesOf(event).some((audience) => this.audiences.includes(audience))) return;
    let data = raw;
    if (this.metrics) {
      const projected = this.channel.project(event, this.metrics);
      if (projected === undefined) return;
      if (projected !== event) data = undefined;
      event = projected;
    }
    await this.session.writable();
    if (!this.active) return;
    this.session.send(frames.event(this.prefix, cursor, data ?? JSON.stringify(event)));
    this.hub.countReplayed(this.channel.name, 1);
  }

  /** Replays entries the stream trimmed, from the channel's archive, strictly between `after` and `until`. */
  async archive(archive: Archive, after: string, until: string): Promise<void> {
    const sensors = this.subscription.sensors;
    if (sensors?.size === 0) return;
    const sensorIds = sensors && sensors.size <= SQL_SENSOR_LIMIT ? [...sensors] : undefined;
    const metrics = this.metrics ? [...this.metrics] : undefined;
    let [afterMs, afterSeq] = splitId(after);
    const [beforeMs, beforeSeq] = splitId(until);
    const read = archive(this.hub.store);
    const check = this.channel.stream.check;
    while (this.active) {
      const page = await read({
        afterMs,
        afterSeq,
        beforeMs,
        beforeSeq,
        limit: PAGE,
        ...(sensorIds ? { sensorIds } : {}),
        ...(metrics ? { metrics } : {}),
      });
      let invalid = 0;
      for (const { cursor, event } of page.events) {
        if (!this.active) return;
        // Stored from validated messages, so this is a bug elsewhere: counted and skipped, as live.
        if (check.Check(event)) await this.offer(cursor, event, undefined);
        else invalid++;
      }
      if (invalid > 0) this.hub.countInvalidArchived(this.channel.name, invalid);
      if (!page.more || !page.last) return;
      afterMs = page.last.ms;
      afterSeq = page.last.seq;
    }
  }
}

/**
 * Replays a subscription from its `since` cursor, then hands it to the live fan-out with no gap and
 * no duplicate. The fan-out publishes entries in order and records its position synchronously, so
 * at any moment it has published exactly the entries up to `hub.position(stream)`. The replay
 * reads (since, position] page by page (XRANGE, exclusive start) and, once it has sent everything
 * up to the position it reads in the same synchronous step, joins the live topics: later entries
 * reach the socket through the fan-out, earlier ones came through the replay.
 *
 * Entries the stream trimmed (its first entry lies past the one after the cursor) come from
 * ClickHouse for archived channels (readings, predictions and anomalies, by their stored entry id),
 * up to the stream's first entry; other channels answer GONE, since a silent gap is what the
 * protocol promises never to leave.
 */
export async function replaySubscription(
  hub: StreamHub,
  session: Session,
  subscription: Subscription,
  since: string,
): Promise<void> {
  const replayer = new Replayer(hub, session, subscription);
  const stream = subscription.channel.stream.name;
  let last = since;
  // A cursor from a replica whose fan-out is further along (the session checked the stream has
  // it): wait until this one has published it too.
  await hub.reached(stream, last);
  for (;;) {
    if (!replayer.active) return;
    const position = hub.position(stream);
    if (compareIds(last, position) >= 0) {
      const cursor = compareIds(last, position) > 0 ? last : position;
      session.send(frames.replayed(subscription.id, cursor));
      session.activate(subscription);
      return;
    }
    const replies = await hub.redis
      .multi()
      .xinfo('STREAM', stream)
      .xrange(stream, `(${last}`, position, 'COUNT', PAGE)
      .exec();
    if (!replayer.active) return;
    const [infoReply, rangeReply] = replies ?? [];
    if (rangeReply?.[0]) throw rangeReply[0];
    const info = infoReply?.[0] ? null : parseInfo(infoReply?.[1]);
    const entries = (rangeReply?.[1] ?? []) as Array<[string, string[]]>;
    // Trimmed past `last`: entries were deleted at some point and the stream now starts after the
    // entry that would follow it (or holds nothing, though it issued ids after it). Trimming does
    // not record what it removed (Redis keeps max-deleted-entry-id for XDEL only), so a cursor
    // whose next entry got a new millisecond counts as trimmed too: the archive then finds nothing
    // between, and other channels answer GONE.
    const trimmed =
      !info ||
      (info.trimmedEver &&
        (info.firstId === null
          ? compareIds(info.lastGeneratedId, last) > 0
          : compareIds(info.firstId, nextId(last)) > 0));
    if (trimmed) {
      const archive = subscription.channel.archive;
      if (!archive) {
        throw new StreamError(
          'GONE',
          `events after ${last} were trimmed from the ${subscription.channel.name} stream; subscribe without "since"`,
          { since: last },
        );
      }
      const until = info?.firstId ?? nextId(info ? info.lastGeneratedId : position);
      await replayer.archive(archive, last, until);
      last = prevId(until);
      continue;
    }
    for (const [id, fields] of entries) {
      if (!replayer.active) return;
      const decoded = decodeEntry(subscription.channel.stream, fields);
      if (decoded) await replayer.offer(id, decoded.event, decoded.raw);
    }
    last = entries.length < PAGE ? position : (entries[entries.length - 1] as [string, string[]])[0];
  }
}
