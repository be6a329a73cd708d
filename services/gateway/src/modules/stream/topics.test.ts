import { describe, expect, test } from 'bun:test';
import { CHANNELS } from './channels.ts';
import { firehoseTopic, sensorTopic, TopicIndex } from './topics.ts';

const readings = CHANNELS.get('readings');
const alerts = CHANNELS.get('alerts');
if (!readings || !alerts) throw new Error('channels missing');
const event = { sensorId: 's-1', ts: 1, metrics: { pm25: 5, temp: 20 }, receivedAt: 2, source: 'x' };
const raw = JSON.stringify(event);

function publish(index: TopicIndex, channel = readings, data: unknown = event, json = raw) {
  const sent: Array<[string, string, number]> = [];
  const deliveries = index.publish(
    channel as NonNullable<typeof readings>,
    '1-0',
    data,
    json,
    (topic, frame, n) => sent.push([topic, frame, n]),
  );
  return { sent, deliveries };
}

describe('TopicIndex', () => {
  test('one frame per class, shared by every socket in it; the raw JSON is reused without a metrics filter', () => {
    const index = new TopicIndex();
    const whole = index.classFor(readings, 's1', undefined, 'public');
    index.add(whole, null);
    index.add(whole, null);
    const bySensor = index.classFor(readings, 's1', undefined, 'public');
    expect(bySensor).toBe(whole);
    index.add(bySensor, ['s-1', 's-2']);
    const { sent, deliveries } = publish(index);
    expect(sent).toEqual([
      [
        firehoseTopic(whole),
        `{"type":"event","id":"s1","channel":"readings","cursor":"1-0","data":${raw}}`,
        2,
      ],
      [
        sensorTopic(whole, 's-1'),
        `{"type":"event","id":"s1","channel":"readings","cursor":"1-0","data":${raw}}`,
        1,
      ],
    ]);
    expect(deliveries).toBe(3);
  });

  test('a metrics filter narrows the data (and skips events left empty); ids and metric sets make classes', () => {
    const index = new TopicIndex();
    const pm = index.classFor(readings, 'a', ['pm25', 'pm25'], 'public');
    const co = index.classFor(readings, 'a', ['co'], 'public');
    const other = index.classFor(readings, 'b', ['pm25'], 'public');
    expect(new Set([pm, co, other]).size).toBe(3);
    for (const topicClass of [pm, co, other]) index.add(topicClass, null);
    const frames = publish(index).sent.map(([, frame]) => JSON.parse(frame));
    expect(frames).toEqual([
      {
        type: 'event',
        id: 'a',
        channel: 'readings',
        cursor: '1-0',
        data: { ...event, metrics: { pm25: 5 } },
      },
      {
        type: 'event',
        id: 'b',
        channel: 'readings',
        cursor: '1-0',
        data: { ...event, metrics: { pm25: 5 } },
      },
    ]);
  });

  test('reference counts: a class is dropped when its last subscription leaves', () => {
    const index = new TopicIndex();
    const topicClass = index.classFor(readings, 's1', undefined, 'public');
    index.add(topicClass, ['s-1']);
    index.add(topicClass, ['s-1']);
    index.remove(topicClass, ['s-1']);
    expect(publish(index).deliveries).toBe(1);
    index.remove(topicClass, ['s-1']);
    expect(publish(index).sent).toEqual([]);
    expect(index.listening('readings')).toBe(false);
    expect(index.classFor(readings, 's1', undefined, 'public')).not.toBe(topicClass);
  });

  test('audiences: an owner-only alert reaches its owner’s and the admins’ classes only', () => {
    const index = new TopicIndex();
    const classes = ['users', 'user:ana', 'user:ben', 'admins'].map((audience) => {
      const topicClass = index.classFor(alerts, 'al', undefined, audience);
      index.add(topicClass, null);
      return topicClass;
    });
    const alert = { id: 'x', sensorId: 's-1', visibility: 'owner', ownerId: 'ana' };
    const { sent } = publish(index, alerts, alert, JSON.stringify(alert));
    expect(sent.map(([topic]) => topic)).toEqual([
      firehoseTopic(classes[1] as never),
      firehoseTopic(classes[3] as never),
    ]);
  });
});
