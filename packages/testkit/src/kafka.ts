// A Kafka-protocol broker for tests (one node, in memory): see ./kafka/broker.ts and the README.
export { KafkaBroker, startKafkaBroker } from './kafka/broker.ts'
export type { KafkaBrokerOptions } from './kafka/broker.ts'
export { crc32c, decodeRecords, encodeBatch } from './kafka/record-batch.ts'
export type { KafkaRecord } from './kafka/record-batch.ts'
