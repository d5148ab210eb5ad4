// A real Kafka 3.9 broker (single KRaft node from the Maven Central jars): kafkajs produces one message and
// a consumer group reads it back.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { requireDep, startKafka, type KafkaHandle } from './src/index';

describe('kafka', () => {
  let broker: KafkaHandle | undefined;
  after(async () => {
    await broker?.stop();
  });

  it('kafkajs produces and consumes one message', async (t) => {
    if (!requireDep(t, 'kafka')) return;
    broker = await startKafka();
    const kafka = new Kafka({ clientId: 'deps-smoke', brokers: broker.brokers, logLevel: logLevel.NOTHING });
    const topic = 'deps-smoke';
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true }), true);
    } finally {
      await admin.disconnect();
    }

    const producer = kafka.producer();
    await producer.connect();
    const sent = await producer.send({ topic, messages: [{ key: 'k1', value: 'hello kafka' }] });
    await producer.disconnect();
    assert.equal(sent[0]?.errorCode, 0);

    const consumer = kafka.consumer({ groupId: 'deps-smoke', maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await new Promise<{ key: string; value: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no message consumed within 30 s')), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
          },
        });
      });
      assert.deepEqual(received, { key: 'k1', value: 'hello kafka' });
    } finally {
      await consumer.disconnect();
    }
  });
});
