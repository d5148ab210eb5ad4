// Apache Kafka (Maven Central jars) as a single KRaft node: broker and controller in one JVM on free
// loopback ports. Ready means a kafkajs producer has produced a message.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { depPath } from './deps-manifest';
import { freePort } from './net-port';
import { makeTempDir, removeTempDir, runChecked, startProcess, waitUntil } from './process';

export interface KafkaOptions {
  /** Default partitions of auto-created topics (default 1). */
  partitions?: number;
  /** JVM heap ceiling in MiB (default 512). */
  heapMb?: number;
  /** Extra server.properties lines (key -> value). */
  properties?: Record<string, string | number | boolean>;
  timeoutMs?: number;
}

export interface KafkaHandle {
  /** ["127.0.0.1:<port>"], ready for `new Kafka({brokers})`. */
  brokers: string[];
  port: number;
  pid: number;
  logs(): string;
  stop(): Promise<void>;
}

const READY_TOPIC = 'mesh-deps-ready';

/** A Kafka cluster id: 16 random bytes, base64url without padding (what kafka-storage random-uuid prints). */
function clusterId(): string {
  return randomBytes(16).toString('base64url');
}

function serverProperties(dir: string, brokerPort: number, controllerPort: number, opts: KafkaOptions): string {
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${brokerPort}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': join(dir, 'data'),
    'num.partitions': opts.partitions ?? 1,
    'auto.create.topics.enable': true,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'group.initial.rebalance.delay.ms': 0,
    'num.network.threads': 2,
    'num.io.threads': 2,
    'log.flush.interval.messages': 1_000_000,
    ...opts.properties,
  };
  return Object.entries(props)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n');
}

async function canProduce(broker: string): Promise<boolean> {
  const kafka = new Kafka({
    clientId: 'mesh-deps-ready',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
  });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  try {
    await producer.connect();
    await producer.send({ topic: READY_TOPIC, messages: [{ value: 'ready' }] });
    return true;
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

export async function startKafka(opts: KafkaOptions = {}): Promise<KafkaHandle> {
  const home = depPath('kafka');
  if (!home) throw new Error('missing dependency kafka: run npm run deps (needs java on PATH)');
  const dir = makeTempDir('kafka');
  const [brokerPort, controllerPort] = [await freePort(), await freePort()];
  const propertiesFile = join(dir, 'server.properties');
  writeFileSync(propertiesFile, serverProperties(dir, brokerPort, controllerPort, opts));
  const classpath = join(home, 'libs', '*');
  const jvm = [
    `-Xmx${opts.heapMb ?? 512}m`,
    '-Xms128m',
    '-XX:+UseSerialGC',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${join(home, 'config', 'log4j.properties')}`,
    `-Dkafka.logs.dir=${join(dir, 'logs')}`,
    '-cp',
    classpath,
  ];
  const timeoutMs = opts.timeoutMs ?? 60_000;
  try {
    await runChecked({
      name: 'kafka-storage format',
      command: 'java',
      args: [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', propertiesFile],
      cwd: dir,
      timeoutMs,
    });
  } catch (err) {
    removeTempDir(dir);
    throw err;
  }
  const proc = startProcess({ name: 'kafka', command: 'java', args: [...jvm, 'kafka.Kafka', propertiesFile], cwd: dir });
  const stop = async (): Promise<void> => {
    await proc.stop(10_000);
    removeTempDir(dir);
  };
  const broker = `127.0.0.1:${brokerPort}`;
  try {
    await waitUntil(`a kafkajs producer to produce to ${broker}`, () => canProduce(broker), {
      timeoutMs,
      intervalMs: 250,
      process: proc,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { brokers: [broker], port: brokerPort, pid: proc.pid, logs: proc.logs, stop };
}
