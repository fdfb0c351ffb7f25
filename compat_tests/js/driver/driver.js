// Drives kafkajs for compat_tests/clients/kafkajs.py, with the command protocol of
// compat_tests/java/driver (KafkaClientDriver):
//
//   node driver.js BOOTSTRAP < commands.json
//
// stdin is a JSON list of commands; for each, one line of JSON goes to stdout,
// {"ok": RESULT} or {"error": NAME, "message": "..."}, NAME being Kafka's error
// name when kafkajs carries one (its errors' `type`, e.g. UNKNOWN_TOPIC_OR_PARTITION),
// else the kafkajs error class. Byte strings (keys, values, header values) travel
// as base64, null as null; offsets as numbers. Commands ("op" and its fields), as
// the Java driver's unless said:
//
//   create_topics     topics: [{name, partitions, replication_factor, configs: {}}]
//                     -> {name: null | {error, message}}  (one CreateTopics per topic:
//                     kafkajs answers TOPIC_ALREADY_EXISTS with `false`, not an error)
//   list_topics       -> sorted names
//   describe_topics   topics: [name] -> {name: {partitions: [{partition, leader, replicas, isr}]}}
//                     (kafkajs's Metadata carries no topic ids)
//   delete_topics     topics: [name] -> {name: null | {error, message}}
//   create_partitions topic, count -> null
//   describe_configs  topic -> [{name, value, source, default, read_only, sensitive, synonyms}]
//   alter_configs     topic, set: {}, delete: [] -> null (kafkajs has only the legacy
//                     AlterConfigs, which replaces a topic's whole config: the driver sends
//                     the topic's current overrides with the changes applied, as a kafkajs
//                     user would)
//   describe_cluster  -> {cluster_id, controller, nodes: [{id, host, port}]}
//   produce           topic, config: {}, records: [...], transaction: null | {commit: bool,
//                     offsets: null | {group, topic, partitions: {p: offset}}}
//                     -> [{partition, offset, timestamp}] (offsets from each partition's
//                     base offset: kafkajs reports one per partition and batch)
//   consume           topic, partition, offset (number, "earliest" or "latest"), count,
//                     timeout_ms, config: {} -> [{partition, offset, timestamp,
//                     timestamp_type: null, key, value, headers}] (kafkajs has no consumer
//                     without a group, nor timestamp types: a fresh group, then a seek)
//   offsets           topic, partitions, times -> {beginning, end, for_times}
//                     (fetchTopicOffsets, fetchTopicOffsetsByTimestamp)
//   group_consume     topic, group, protocol ("classic" only), count, assigned, timeout_ms,
//                     config: {} -> {assigned, records: [{partition, offset, value}], committed}
//   list_groups       -> sorted group ids                                    (not in Java's)
//   describe_groups   groups: [id] -> {id: {error, state, protocol_type, protocol,
//                     members: [{client_id, assignment: {topic: [p]}}]}}     (not in Java's)
//   delete_groups     groups: [id] -> {id: null | error name}                (not in Java's)
//   group_offsets     group, topic -> {p: {committed, end, lag}}              (not in Java's)
//
// Producer config keys are kafkajs's own: acks, timeout, compression (send options),
// retries, partitioner ("default" | "legacy") and any kafkajs producer option
// (idempotent, transactionalId, maxInFlightRequests...). Consumer config: kafkajs
// consumer options (readUncommitted...). Every wait is bounded by a deadline.

'use strict'

const crypto = require('crypto')
const { Kafka, logLevel, CompressionTypes, CompressionCodecs, Partitioners, AssignerProtocol, ConfigResourceTypes } = require('kafkajs')
const SnappyCodec = require('kafkajs-snappy')
const LZ4Codec = require('@2l/kafkajs-lz4')
const zstd = require('@mongodb-js/zstd')

// kafkajs has gzip only. snappy: the codec its documentation names (pure JS); lz4: one
// over lz4-napi (its documented kafkajs-lz4 needs a native build of lz4 0.6, whose
// package ships macOS binaries); zstd: the codec interface over the MongoDB driver's
// zstd binding (its documented @kafkajs/zstd needs cppzst, which fails to compile on
// Node 20). The two bindings install prebuilt: nothing is compiled.
CompressionCodecs[CompressionTypes.Snappy] = SnappyCodec
CompressionCodecs[CompressionTypes.LZ4] = new LZ4Codec().codec
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: async encoder => zstd.compress(encoder.buffer),
  decompress: async buffer => zstd.decompress(buffer),
})

const COMPRESSION = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD }
const SEND_OPTIONS = new Set(['acks', 'timeout', 'compression'])
const TIMEOUT_MS = 30000

class DriverError extends Error {
  constructor(name, message) {
    super(message)
    this.type = name
  }
}

function main() {
  const bootstrap = process.argv[2]
  const kafka = new Kafka({
    clientId: 'kwire-compat-kafkajs',
    brokers: [bootstrap],
    connectionTimeout: 10000,
    requestTimeout: 15000,
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
    // kafkajs's default logger writes to stdout, which carries the answers.
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, level, log }) => {
      const { message, ...extra } = log
      process.stderr.write(`[kafkajs ${level} ${namespace}] ${message} ${JSON.stringify(extra)}\n`)
    },
  })
  let input = ''
  process.stdin.setEncoding('utf8')
  process.stdin.on('data', chunk => { input += chunk })
  process.stdin.on('end', async () => {
    const driver = new Driver(kafka)
    for (const command of JSON.parse(input)) {
      let answer
      try {
        answer = { ok: await driver.run(command) }
      } catch (e) {
        answer = { error: errorName(e), message: String(e && e.message) }
      }
      process.stdout.write(JSON.stringify(answer) + '\n')
    }
    await driver.close()
    process.exit(0)
  })
}

// Kafka's name for what went wrong: kafkajs's protocol errors carry it as `type`;
// retry and aggregate errors wrap the error that ended the call.
function errorName(e) {
  for (let cause = e, depth = 0; cause && depth < 5; depth++) {
    if (cause.type && cause.type !== 'UNKNOWN') return cause.type
    const next = cause.originalError || cause.cause || (cause.errors && cause.errors[0])
    if (!next) return cause.name || String(cause)
    cause = next
  }
  return e.name
}

const b64 = value => (value == null ? null : Buffer.from(value).toString('base64'))
const bytes = value => (value == null ? null : Buffer.from(value, 'base64'))
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const byPartition = entries => Object.fromEntries([...entries].sort((a, b) => a[0] - b[0]).map(([p, v]) => [String(p), v]))

async function until(condition, deadline) {
  while (!condition() && Date.now() < deadline) await sleep(50)
  return condition()
}

// kafkajs takes headers as an object ({key: value or [values]}), sent in the object's
// key order: a list of pairs it cannot send in the same order is refused, not reordered.
function headersObject(pairs) {
  if (pairs.some(([, value]) => value == null)) {
    // kafkajs 2.2.4 measures a header value with Buffer.byteLength before its null check.
    throw new DriverError('UNSUPPORTED', 'kafkajs 2.2.4 throws on a null header value')
  }
  const headers = {}
  for (const [key, value] of pairs) {
    if (!(key in headers)) headers[key] = []
    headers[key].push(bytes(value))
  }
  const sentOrder = Object.keys(headers).flatMap(key => headers[key].map(() => key))
  if (sentOrder.join('\0') !== pairs.map(([key]) => key).join('\0')) {
    throw new DriverError('UNSUPPORTED', 'kafkajs headers are an object: this header order cannot be sent')
  }
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.length === 1 ? v[0] : v]))
}

function headerPairs(headers) {
  return Object.entries(headers || {}).flatMap(([key, value]) =>
    (Array.isArray(value) ? value : [value]).map(v => [key, b64(v)]))
}

class Driver {
  constructor(kafka) {
    this.kafka = kafka
    this.adminClient = null
  }

  async admin() {
    if (!this.adminClient) {
      this.adminClient = this.kafka.admin()
      await this.adminClient.connect()
    }
    return this.adminClient
  }

  async close() {
    if (this.adminClient) await this.adminClient.disconnect()
  }

  async run(command) {
    switch (command.op) {
      case 'create_topics': return this.createTopics(command)
      case 'list_topics': return (await (await this.admin()).listTopics()).sort()
      case 'describe_topics': return this.describeTopics(command)
      case 'delete_topics': return this.deleteTopics(command)
      case 'create_partitions':
        await (await this.admin()).createPartitions({ topicPartitions: [{ topic: command.topic, count: command.count }] })
        return null
      case 'describe_configs': return this.describeConfigs(command)
      case 'alter_configs': return this.alterConfigs(command)
      case 'describe_cluster': return this.describeCluster()
      case 'produce': return this.produce(command)
      case 'consume': return this.consume(command)
      case 'offsets': return this.offsets(command)
      case 'group_consume': return this.groupConsume(command)
      case 'list_groups': return (await (await this.admin()).listGroups()).groups.map(g => g.groupId).sort()
      case 'describe_groups': return this.describeGroups(command)
      case 'delete_groups': return this.deleteGroups(command)
      case 'group_offsets': return this.groupOffsets(command.group, command.topic)
      default: throw new DriverError('UNSUPPORTED', `unknown op ${command.op}`)
    }
  }

  // -- admin ------------------------------------------------------------------

  async createTopics(command) {
    const admin = await this.admin()
    const out = {}
    for (const spec of command.topics) {
      try {
        const created = await admin.createTopics({
          timeout: 15000,
          topics: [{
            topic: spec.name,
            numPartitions: spec.partitions || 1,
            replicationFactor: spec.replication_factor || 1,
            configEntries: Object.entries(spec.configs || {}).map(([name, value]) => ({ name, value })),
          }],
        })
        out[spec.name] = created ? null : { error: 'TOPIC_ALREADY_EXISTS', message: 'createTopics returned false' }
      } catch (e) {
        out[spec.name] = { error: errorName(e), message: String(e.message) }
      }
    }
    return out
  }

  async describeTopics(command) {
    const { topics } = await (await this.admin()).fetchTopicMetadata({ topics: command.topics })
    const out = {}
    for (const topic of topics) {
      out[topic.name] = {
        partitions: topic.partitions
          .map(p => ({ partition: p.partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr }))
          .sort((a, b) => a.partition - b.partition),
      }
    }
    return out
  }

  async deleteTopics(command) {
    const admin = await this.admin()
    const out = {}
    for (const name of command.topics) {
      try {
        await admin.deleteTopics({ topics: [name], timeout: 15000 })
        out[name] = null
      } catch (e) {
        out[name] = { error: errorName(e), message: String(e.message) }
      }
    }
    return out
  }

  async describeConfigs(command) {
    const { resources } = await (await this.admin()).describeConfigs({
      includeSynonyms: true,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: command.topic }],
    })
    const [resource] = resources
    if (resource.errorCode) throw new DriverError(resource.errorMessage || `ERROR_${resource.errorCode}`, resource.errorMessage)
    return resource.configEntries.map(e => ({
      name: e.configName,
      value: e.configValue,
      source: e.configSource,
      default: e.isDefault,
      read_only: e.readOnly,
      sensitive: e.isSensitive,
      synonyms: (e.configSynonyms || []).map(s => [s.configName, s.configValue, s.configSource]),
    }))
  }

  async alterConfigs(command) {
    const admin = await this.admin()
    const current = await this.describeConfigs(command)
    // configSource 1 is DYNAMIC_TOPIC_CONFIG: the topic's own overrides.
    const overrides = Object.fromEntries(current.filter(e => e.source === 1).map(e => [e.name, e.value]))
    for (const name of command.delete || []) delete overrides[name]
    Object.assign(overrides, command.set || {})
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{
        type: ConfigResourceTypes.TOPIC,
        name: command.topic,
        configEntries: Object.entries(overrides).map(([name, value]) => ({ name, value })),
      }],
    })
    return null
  }

  async describeCluster() {
    const cluster = await (await this.admin()).describeCluster()
    return {
      cluster_id: cluster.clusterId,
      controller: cluster.controller,
      nodes: cluster.brokers.map(b => ({ id: b.nodeId, host: b.host, port: b.port })),
    }
  }

  async describeGroups(command) {
    const { groups } = await (await this.admin()).describeGroups(command.groups)
    const out = {}
    for (const g of groups) {
      out[g.groupId] = {
        error: g.errorCode ? `ERROR_${g.errorCode}` : null,
        state: g.state,
        protocol_type: g.protocolType,
        protocol: g.protocol,
        members: g.members.map(m => ({
          client_id: m.clientId,
          assignment: m.memberAssignment && m.memberAssignment.length
            ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment).assignment
            : {},
        })),
      }
    }
    return out
  }

  async deleteGroups(command) {
    const out = {}
    for (const group of command.groups) {
      try {
        await (await this.admin()).deleteGroups([group])
        out[group] = null
      } catch (e) {
        // KafkaJSDeleteGroupsError lists each group with its own error.
        const failed = (e.groups || []).find(g => g.groupId === group)
        out[group] = failed && failed.error ? errorName(failed.error) : errorName(e)
      }
    }
    return out
  }

  async groupOffsets(group, topic) {
    const admin = await this.admin()
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] })
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map(p => [p.partition, Number(p.high)]))
    return byPartition(committed.partitions.map(p => {
      const offset = Number(p.offset)
      const end = ends.get(p.partition)
      return [p.partition, offset < 0 ? { committed: null, end, lag: null } : { committed: offset, end, lag: end - offset }]
    }))
  }

  // -- producer and consumer ----------------------------------------------------

  async produce(command) {
    const { retries, partitioner, ...config } = command.config || {}
    const send = {}
    const options = {}
    for (const [key, value] of Object.entries(config)) (SEND_OPTIONS.has(key) ? send : options)[key] = value
    if (send.compression !== undefined) send.compression = COMPRESSION[send.compression]
    const producer = this.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: partitioner === 'legacy' ? Partitioners.LegacyPartitioner : Partitioners.DefaultPartitioner,
      ...(retries === undefined ? {} : { retry: { retries } }),
      ...options,
    })
    const messages = command.records.map(r => ({
      key: bytes(r.key),
      value: bytes(r.value),
      ...(r.partition == null ? {} : { partition: r.partition }),
      ...(r.timestamp == null ? {} : { timestamp: String(r.timestamp) }),
      headers: headersObject(r.headers || []),
    }))
    await producer.connect()
    try {
      const request = { topic: command.topic, messages, ...send }
      let metadata
      if (command.transaction) {
        const txn = await producer.transaction()
        try {
          metadata = await txn.send(request)
          const offsets = command.transaction.offsets
          if (offsets) {
            await txn.sendOffsets({
              consumerGroupId: offsets.group,
              topics: [{
                topic: offsets.topic,
                partitions: Object.entries(offsets.partitions).map(([p, o]) => ({ partition: Number(p), offset: String(o) })),
              }],
            })
          }
        } catch (e) {
          await txn.abort()
          throw e
        }
        await (command.transaction.commit === false ? txn.abort() : txn.commit())
      } else {
        metadata = await producer.send(request)
      }
      return this.recordOffsets(command.records, metadata)
    } finally {
      await producer.disconnect()
    }
  }

  // kafkajs answers one RecordMetadata per partition (the batch's base offset): the
  // records of one partition are that batch in send order. A record the partitioner
  // placed among several partitions gets no offset (kafkajs does not say which it was).
  recordOffsets(records, metadata) {
    const byPartition = new Map(metadata.map(m => [m.partition, m]))
    const taken = new Map()
    return records.map(r => {
      const m = r.partition != null ? byPartition.get(r.partition) : metadata.length === 1 ? metadata[0] : undefined
      if (!m) return { partition: null, offset: null, timestamp: r.timestamp == null ? null : r.timestamp }
      const index = taken.get(m.partition) || 0
      taken.set(m.partition, index + 1)
      const appendTime = Number(m.logAppendTime)
      return {
        partition: m.partition,
        offset: Number(m.baseOffset) + index,
        timestamp: appendTime >= 0 ? appendTime : r.timestamp == null ? null : r.timestamp,
      }
    })
  }

  consumer(groupId, config) {
    return this.kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      heartbeatInterval: 500,
      sessionTimeout: 10000,
      rebalanceTimeout: 10000,
      maxWaitTimeInMs: 100,
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
      ...config,
    })
  }

  async consume(command) {
    const { topic, partition, offset, count } = command
    const deadline = Date.now() + (command.timeout_ms || 20000)
    const out = []
    if (count <= 0) return out
    const consumer = this.consumer(`kwire-compat-read-${crypto.randomBytes(6).toString('hex')}`, command.config || {})
    await consumer.connect()
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: offset !== 'latest' })
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition: p, message }) => {
          if (p !== partition || out.length >= count) return
          out.push({
            partition: p,
            offset: Number(message.offset),
            timestamp: Number(message.timestamp),
            timestamp_type: null,
            key: b64(message.key),
            value: b64(message.value),
            headers: headerPairs(message.headers),
          })
        },
      })
      if (typeof offset === 'number') consumer.seek({ topic, partition, offset: String(offset) })
      await until(() => out.length >= count, deadline)
    } finally {
      await consumer.disconnect()
    }
    return out
  }

  async offsets(command) {
    const admin = await this.admin()
    const wanted = new Set(command.partitions)
    const listed = (await admin.fetchTopicOffsets(command.topic)).filter(p => wanted.has(p.partition))
    const end = new Map(listed.map(p => [p.partition, Number(p.high)]))
    const out = {
      beginning: byPartition(listed.map(p => [p.partition, Number(p.low)])),
      end: byPartition(end),
      for_times: {},
    }
    for (const time of command.times || []) {
      const found = (await admin.fetchTopicOffsetsByTimestamp(command.topic, time)).filter(p => wanted.has(p.partition))
      // kafkajs answers the end offset where ListOffsets found no record (-1); a found
      // record's offset is always below the end offset, so this maps back exactly.
      // It does not pass on the found record's timestamp.
      out.for_times[String(time)] = byPartition(found.map(p => {
        const o = Number(p.offset)
        return [p.partition, o >= end.get(p.partition) ? null : [o, null]]
      }))
    }
    return out
  }

  async groupConsume(command) {
    const { topic, group, count } = command
    if ((command.protocol || 'classic') !== 'classic') {
      throw new DriverError('UNSUPPORTED', 'kafkajs speaks only the classic group protocol')
    }
    const deadline = Date.now() + (command.timeout_ms || 30000)
    const consumer = this.consumer(group, command.config || {})
    let assigned = []
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      assigned = [...(payload.memberAssignment[topic] || [])].sort((a, b) => a - b)
    })
    const records = []
    const toCommit = new Map()
    await consumer.connect()
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          if (records.length >= count) return
          records.push({ partition, offset: Number(message.offset), value: message.value == null ? null : message.value.toString() })
          toCommit.set(partition, Number(message.offset) + 1)
        },
      })
      const wantedAssigned = command.assigned
      await until(() => records.length >= count && (wantedAssigned == null || assigned.length === wantedAssigned), deadline)
      // Only the taken records are committed (a fetch may hand over more than count).
      if (toCommit.size) {
        await consumer.commitOffsets([...toCommit].map(([partition, offset]) => ({ topic, partition, offset: String(offset) })))
      }
      const committed = await this.groupOffsets(group, topic)
      return {
        assigned,
        records,
        committed: byPartition(assigned.map(p => [p, committed[String(p)] ? committed[String(p)].committed : null])),
      }
    } finally {
      await consumer.disconnect()
    }
  }
}

main()
