import type Redis from 'ioredis';

/** The sorted set of a share group's members: client id → until when its session holds a share (ms). */
export const shareMembersKey = (group: string) => `ingest:share-members:${group}`;

/**
 * Which ingest sessions hold a share of `$share/{group}/…`, kept in Redis because the broker does not
 * say. A member is added once subscribed, its expiry pushed on while it runs, and removed only when it
 * leaves: a replica stopped with MQTT_ON_STOP=keep stays a member, since its session keeps taking its
 * share until the session expires. A leave checks that another member remains first: with none,
 * Mosquitto would drop what is published to the group, while a kept session holds it.
 */
export function shareMembers(redis: Redis, group: string, clientId: string, sessionExpiryS: number) {
  const key = shareMembersKey(group);
  return {
    /** Records this session as a member until `sessionExpiryS` from now (it may be away that long). */
    async join(): Promise<void> {
      await redis.zadd(key, Date.now() + sessionExpiryS * 1_000, clientId);
    },
    /** The other members whose sessions may still hold a share. */
    async others(): Promise<string[]> {
      const members = await redis.zrangebyscore(key, Date.now(), '+inf');
      return members.filter((member) => member !== clientId);
    },
    /** This session ended (it left): forgets it, and members whose sessions have expired. */
    async left(): Promise<void> {
      await redis.multi().zrem(key, clientId).zremrangebyscore(key, '-inf', Date.now()).exec();
    },
  };
}
