// Drives kafkajs for compat_tests/clients/kafkajs.py, with the command protocol of
// compat_tests/java/driver (KafkaClientDriver):
//
//   node driver.js BOOTSTRAP < commands.json
//
// stdin is a JSON list of commands; for each, one line of JSON goes to stdout,
// {"ok": RESULT} or {"error": NAME, "code": CODE, "message": "..."}: Kafka's error code
// and kafkajs's name for it when kafkajs carries one (UNKNOWN_TOPIC_OR_PARTITION, 3),
// else the kafkajs error class and null. Byte strings (keys, values, header values) travel
// as base64, null as null; offsets as numbers. Commands ("op" and its fields), as
// the Java driver's unless said:
//
//   create_topics     topics: [{name, partitions, replication_factor, configs: {}}]
//                     -> {name: null | {error, code, message}}  (one CreateTopics per topic:
//                     kafkajs answers TOPIC_ALREADY_EXISTS with `false`, not an error)
//   list_topics       -> sorted names
//   describe_topics   topics: [name] -> {name: {partitions: [{partition, leader, replicas, isr}]}}
//                     (kafkajs's Metadata carries no topic ids)
//   delete_topics     topics: [name] -> {name: null | {error, code, message}}
//   create_partitions topic, count -> null
//   describe_configs  topic -> [{name, value, source, default, read_only, sensitive, synonyms}]
//   alter_configs     topic, set: {} -> null (the legacy AlterConfigs: kafkajs has no
//                     IncrementalAlterConfigs)
//   describe_cluster  -> {cluster_id, controller, nodes: [{id, host, port}]}
//   produce           topic, config: {}, records: [...], transaction: null | {commit: bool}
//                     -> [{partition, offset, timestamp}] (offsets from each partition's
//                     base offset: kafkajs reports one per partition and batch)
//   consume           topic, partition, offset (a number to seek to, "earliest", "latest" or null:
//                     the reset policy decides), reset ("earliest" | "latest" | "none": only for
//                     an offset in range, kafkajs always resets), count, timeout_ms,
//                     config: {kafkajs consumer options} -> [{partition, offset, timestamp,
//                     timestamp_type: null, key, value, headers}] (kafkajs has no consumer without
//                     a group, nor timestamp types: a fresh group, then a seek)
//   offsets           topic, partitions, times -> {beginning, end, for_times}
//                     (fetchTopicOffsets, fetchTopicOffsetsByTimestamp)
//   group_consume     topic, group, count, assigned, timeout_ms -> {assigned, records:
//                     [{partition, offset, value}], committed} (the classic protocol only)
//   group_rebalance   topic, group, partitions, timeout_ms -> {first, a, b, a_revoked, a_lost}
//   list_groups       -> {id: {protocol_type}} (kafkajs's ListGroups v0-v2: no state, no type)
//   describe_groups   groups: [id] -> {id: {state, protocol_type, protocol, members:
//                     [{client_id, assigned: [[topic, p]]}]} | {error_code}}
//   delete_groups     groups: [id] -> {id: null | {error, code, message}}
//   group_offsets     group, topic -> {committed: {p: offset}, lag: {p: end - committed}}
//   transform         source, target, group, count, transactional_id, commit, timeout_ms
//                     -> {records: [{partition, offset, value}], committed: bool}
//   fenced_transaction topic, transactional_id, first, second, late: [{partition, key, value}]
//                     -> {send: null | {error, code, message}, commit: null | {...}}
//   transform_worker  source, target, group, count, transactional_id, hold, timeout_ms
//                     -> {records: [{partition, offset, value}]} (see transformWorker)
//   group_member      topic, group, session_timeout_ms: a member printing its events until
//                     SIGTERM (see groupMember) -> null
//
// Producer config keys are kafkajs's own: acks, timeout, compression (send options),
// retries and any kafkajs producer option
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

class DriverError extends Error {
  constructor(name, message, code = null) {
    super(message)
    this.type = name
    this.code = code
  }
}

function main() {
  const bootstrap = process.argv[2]
  const kafka = new Kafka({
    clientId: 'kwire-compat-kafkajs',
    brokers: [bootstrap],
    connectionTimeout: 10000,
    requestTimeout: 15000,
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
        answer = failure(e)
      }
      // Waits for the write: a large answer to a pipe is still going when process.exit runs.
      await new Promise(resolve => process.stdout.write(JSON.stringify(answer) + '\n', resolve))
    }
    await driver.close()
    process.exit(0)
  })
}

// What went wrong: kafkajs's protocol errors carry Kafka's error code (`code`) and its
// own name for it (`type`, some of them older than Kafka's: NOT_LEADER_FOR_PARTITION);
// retry and aggregate errors wrap the error that ended the call.
function failure(e) {
  for (let cause = e, depth = 0; cause && depth < 5; depth++) {
    if (cause.type && cause.type !== 'UNKNOWN') {
      return { error: cause.type, code: typeof cause.code === 'number' ? cause.code : null, message: String(cause.message) }
    }
    const next = cause.originalError || cause.cause || (cause.errors && cause.errors[0])
    if (!next) return { error: cause.name || String(cause), code: null, message: String(cause.message) }
    cause = next
  }
  return { error: e.name, code: null, message: String(e.message) }
}

const b64 = value => (value == null ? null : Buffer.from(value).toString('base64'))
const bytes = value => (value == null ? null : Buffer.from(value, 'base64'))
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
const assignedPairs = assignment => {
  if (!assignment || !assignment.length) return []
  const decoded = AssignerProtocol.MemberAssignment.decode(assignment).assignment
  return Object.entries(decoded).flatMap(([topic, partitions]) => partitions.map(p => [topic, p]))
    .sort((a, b) => (a[0] === b[0] ? a[1] - b[1] : a[0] < b[0] ? -1 : 1))
}
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
  const headers = new Map()
  for (const [key, value] of pairs) headers.set(key, [...(headers.get(key) || []), bytes(value)])
  const sentOrder = Object.keys(Object.fromEntries(headers)).flatMap(key => headers.get(key).map(() => key))
  if (sentOrder.join('\0') !== pairs.map(([key]) => key).join('\0')) {
    throw new DriverError('UNSUPPORTED', 'kafkajs headers are an object: this header order cannot be sent')
  }
  return Object.fromEntries([...headers].map(([k, v]) => [k, v.length === 1 ? v[0] : v]))
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
      case 'group_rebalance': return this.groupRebalance(command)
      case 'list_groups': return this.listGroups()
      case 'describe_groups': return this.describeGroups(command)
      case 'delete_groups': return this.deleteGroups(command)
      case 'group_offsets': return this.groupOffsets(command.group, command.topic)
      case 'transform': return this.transform(command)
      case 'fenced_transaction': return this.fencedTransaction(command)
      case 'transform_worker': return this.transformWorker(command)
      case 'group_member': return this.groupMember(command)
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
        out[spec.name] = created ? null : { error: 'TOPIC_ALREADY_EXISTS', code: 36, message: 'createTopics returned false' }
      } catch (e) {
        out[spec.name] = failure(e)
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
        out[name] = failure(e)
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
    if (resource.errorCode) throw new DriverError(`ERROR_${resource.errorCode}`, resource.errorMessage, resource.errorCode)
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

  // kafkajs has only the legacy AlterConfigs: `set` becomes the topic's whole override set.
  async alterConfigs(command) {
    await (await this.admin()).alterConfigs({
      validateOnly: false,
      resources: [{
        type: ConfigResourceTypes.TOPIC,
        name: command.topic,
        configEntries: Object.entries(command.set || {}).map(([name, value]) => ({ name, value })),
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

  async listGroups() {
    const { groups } = await (await this.admin()).listGroups()
    return Object.fromEntries(groups.map(g => [g.groupId, { protocol_type: g.protocolType }]))
  }

  async describeGroups(command) {
    const { groups } = await (await this.admin()).describeGroups(command.groups)
    const out = {}
    for (const g of groups) {
      if (g.errorCode) {
        out[g.groupId] = { error_code: g.errorCode }
        continue
      }
      out[g.groupId] = {
        state: g.state,
        protocol_type: g.protocolType,
        protocol: g.protocol,
        members: g.members.map(m => ({ client_id: m.clientId, assigned: assignedPairs(m.memberAssignment) })),
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
        out[group] = failure(failed && failed.error ? failed.error : e)
      }
    }
    return out
  }

  // Partitions without a committed offset are left out, as Kafka's admin clients do.
  async groupOffsets(group, topic) {
    const admin = await this.admin()
    const [fetched] = await admin.fetchOffsets({ groupId: group, topics: [topic] })
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map(p => [p.partition, Number(p.high)]))
    const committed = fetched.partitions.filter(p => Number(p.offset) >= 0).map(p => [p.partition, Number(p.offset)])
    return {
      committed: byPartition(committed),
      lag: byPartition(committed.map(([p, offset]) => [p, ends.get(p) - offset])),
    }
  }

  // -- producer and consumer ----------------------------------------------------

  // The partitioner named: kafkajs's default (murmur2, as Java's since 2.0), without the
  // notice it logs when none is named.
  producer(options) {
    return this.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner, ...options })
  }

  async produce(command) {
    const { retries, ...config } = command.config || {}
    const send = {}
    const options = {}
    for (const [key, value] of Object.entries(config)) (SEND_OPTIONS.has(key) ? send : options)[key] = value
    if (send.compression !== undefined) send.compression = COMPRESSION[send.compression]
    const producer = this.producer({ ...(retries === undefined ? {} : { retry: { retries } }), ...options })
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
      ...config,
    })
  }

  async consume(command) {
    const { topic, partition, offset, count } = command
    const deadline = Date.now() + (command.timeout_ms || 20000)
    const out = []
    if (count <= 0) return out
    if (command.reset === 'none' && typeof offset === 'number') {
      const listed = (await (await this.admin()).fetchTopicOffsets(topic)).find(p => p.partition === partition)
      if (!listed || offset < Number(listed.low) || offset > Number(listed.high)) {
        throw new DriverError('UNSUPPORTED', 'kafkajs has no auto.offset.reset=none: it resets an out-of-range offset')
      }
    }
    const consumer = this.consumer(`kwire-compat-read-${crypto.randomBytes(6).toString('hex')}`, command.config || {})
    await consumer.connect()
    try {
      // fromBeginning is kafkajs's reset policy (earliest or latest), for a group without a
      // committed offset and for an out-of-range one.
      const earliest = offset === 'earliest' || (offset !== 'latest' && command.reset !== 'latest')
      await consumer.subscribe({ topics: [topic], fromBeginning: earliest })
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

  // A member of `group` subscribed to `topic` (assigned: its partitions after each join).
  async member(group, topic, eachMessage) {
    const consumer = this.consumer(group, {})
    const member = { consumer, assigned: null, joins: [], revoked: [] }
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      member.assigned = [...(payload.memberAssignment[topic] || [])].sort((a, b) => a - b)
      member.joins.push(member.assigned)
    })
    // kafkajs's assignment is eager: at a rebalance it gives up every partition it owns.
    consumer.on(consumer.events.REBALANCING, () => {
      if (member.assigned) member.revoked.push(...member.assigned)
    })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({ autoCommit: false, eachMessage: eachMessage || (async () => {}) })
    return member
  }

  async groupConsume(command) {
    const { topic, group, count } = command
    const deadline = Date.now() + (command.timeout_ms || 30000)
    const records = []
    const toCommit = new Map()
    const member = await this.member(group, topic, async ({ partition, message }) => {
      if (records.length >= count) return
      records.push({ partition, offset: Number(message.offset), value: message.value == null ? null : message.value.toString() })
      toCommit.set(partition, Number(message.offset) + 1)
    })
    try {
      const wanted = command.assigned
      await until(() => records.length >= count && member.assigned !== null
        && (wanted == null || member.assigned.length === wanted), deadline)
      // Only the taken records are committed (a fetch may hand over more than count).
      if (toCommit.size) {
        await member.consumer.commitOffsets([...toCommit].map(([partition, offset]) => ({ topic, partition, offset: String(offset) })))
      }
      const { committed } = await this.groupOffsets(group, topic)
      const assigned = member.assigned || []
      return {
        assigned,
        records,
        committed: byPartition(assigned.filter(p => String(p) in committed).map(p => [p, committed[String(p)]])),
      }
    } finally {
      await member.consumer.disconnect()
    }
  }

  async groupRebalance(command) {
    const { topic, group, partitions } = command
    const deadline = Date.now() + (command.timeout_ms || 60000)
    const a = await this.member(group, topic)
    let b = null
    try {
      if (!await until(() => a.assigned && a.assigned.length === partitions, deadline)) {
        throw new DriverError('REQUEST_TIMED_OUT', `member a holds ${JSON.stringify(a.assigned)}, not all ${partitions}`)
      }
      const first = a.assigned
      b = await this.member(group, topic)
      const split = () => a.assigned && b.assigned && a.assigned.length > 0 && b.assigned.length > 0
        && a.assigned.length + b.assigned.length === partitions
        && new Set([...a.assigned, ...b.assigned]).size === partitions
      if (!await until(split, deadline)) {
        throw new DriverError('REQUEST_TIMED_OUT', `a holds ${JSON.stringify(a.assigned)}, b ${JSON.stringify(b.assigned)}`)
      }
      return { first, a: a.assigned, b: b.assigned, a_revoked: [...new Set(a.revoked)].sort((x, y) => x - y), a_lost: [] }
    } finally {
      if (b) await b.consumer.disconnect()
      await a.consumer.disconnect()
    }
  }

  // One member for compat_tests' base.MemberProcess, which runs the driver with this one
  // command and reads the events printed before its answer: {"assigned": [p], "generation":
  // null} after each join (kafkajs does not tell its generation), {"revoked": [p]} at each
  // rebalance (kafkajs is eager: it gives up everything), {"records": [...]} for each batch
  // before its commit, {"commit_error": name} when that fails. SIGTERM disconnects the
  // consumer (LeaveGroup) and ends the command; SIGKILL is a crash. kafkajs has no static
  // membership (group.instance.id).
  async groupMember(command) {
    const { topic, group } = command
    const emit = event => process.stdout.write(JSON.stringify(event) + '\n')
    const stopped = new Promise(resolve => process.once('SIGTERM', resolve))
    const session = command.session_timeout_ms
    const consumer = this.consumer(group, { sessionTimeout: session, heartbeatInterval: Math.floor(session / 3) })
    let owned = []
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      owned = [...(payload.memberAssignment[topic] || [])].sort((a, b) => a - b)
      emit({ assigned: owned, generation: null })
    })
    consumer.on(consumer.events.REBALANCING, () => {
      if (owned.length) emit({ revoked: owned })
      owned = []
    })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (!batch.messages.length) return
        emit({ records: batch.messages.map(m => ({ partition: batch.partition, offset: Number(m.offset),
          value: m.value == null ? null : m.value.toString() })) })
        const next = Number(batch.messages[batch.messages.length - 1].offset) + 1
        try {
          await consumer.commitOffsets([{ topic, partition: batch.partition, offset: String(next) }])
        } catch (e) {
          emit({ commit_error: failure(e).error })
        }
      },
    })
    await stopped
    await consumer.disconnect()
    return null
  }

  // Consume-transform-produce: `count` records of `source` (read_committed, kafkajs's
  // default) copied to the same partitions of `target` in one transaction that also
  // commits the group's offsets after them (sendOffsets: AddOffsetsToTxn, TxnOffsetCommit).
  async transform(command) {
    const { source, target, group, count } = command
    const deadline = Date.now() + (command.timeout_ms || 30000)
    const records = []
    const member = await this.member(group, source, async ({ partition, message }) => {
      if (records.length < count) records.push({ partition, offset: Number(message.offset), key: message.key, value: message.value })
    })
    try {
      if (!await until(() => records.length >= count, deadline)) {
        throw new DriverError('REQUEST_TIMED_OUT', `read ${records.length} of ${count} records`)
      }
      const producer = this.producer({ transactionalId: command.transactional_id, idempotent: true, maxInFlightRequests: 1 })
      await producer.connect()
      try {
        const txn = await producer.transaction()
        try {
          await txn.send({ topic: target, acks: -1, messages: records.map(r => ({ partition: r.partition, key: r.key, value: r.value })) })
          const next = new Map()
          for (const r of records) next.set(r.partition, Math.max(next.get(r.partition) || 0, r.offset + 1))
          await txn.sendOffsets({
            consumerGroupId: group,
            topics: [{ topic: source, partitions: [...next].map(([partition, offset]) => ({ partition, offset: String(offset) })) }],
          })
        } catch (e) {
          await txn.abort()
          throw e
        }
        await (command.commit ? txn.commit() : txn.abort())
      } finally {
        await producer.disconnect()
      }
      return {
        records: records.map(r => ({ partition: r.partition, offset: r.offset, value: r.value == null ? null : r.value.toString() })),
        committed: Boolean(command.commit),
      }
    } finally {
      await member.consumer.disconnect()
    }
  }

  // Producer a begins a transaction and sends `first`; producer b with the same transactional
  // id connects (its InitProducerId fences a and aborts a's transaction) and commits `second`;
  // then a sends `late` and tries to commit: the errors a met.
  async fencedTransaction(command) {
    const options = { transactionalId: command.transactional_id, idempotent: true, maxInFlightRequests: 1 }
    const messages = records => records.map(r => ({ partition: r.partition, key: bytes(r.key), value: bytes(r.value) }))
    const send = (txn, records) => txn.send({ topic: command.topic, acks: -1, messages: messages(records) })
    const a = this.producer(options)
    const b = this.producer(options)
    try {
      await a.connect()
      const first = await a.transaction()
      await send(first, command.first)
      await b.connect()
      const second = await b.transaction()
      await send(second, command.second)
      await second.commit()
      const out = { send: null, commit: null }
      try {
        await send(first, command.late)
      } catch (e) {
        out.send = failure(e)
      }
      try {
        await first.commit()
      } catch (e) {
        out.commit = failure(e)
      }
      return out
    } finally {
      await a.disconnect()
      await b.disconnect()
    }
  }

  // A consume-transform-produce worker that may be killed mid-transaction: its producer
  // connects first (InitProducerId aborts what a killed predecessor left open), then it joins
  // `group` (session timeout 6 s, so a killed predecessor leaves the group within seconds),
  // copies `count` records to partition 0 of `target` in one transaction with the group's
  // offsets, and commits. hold: prints {"held": {records}} before the commit and waits to be
  // killed, aborting if it is not within a minute.
  async transformWorker(command) {
    const { source, target, group, count } = command
    const deadline = Date.now() + (command.timeout_ms || 30000)
    const producer = this.producer({ transactionalId: command.transactional_id, idempotent: true, maxInFlightRequests: 1 })
    await producer.connect()
    const records = []
    const consumer = this.consumer(group, { sessionTimeout: 6000 })
    try {
      await consumer.connect()
      await consumer.subscribe({ topics: [source], fromBeginning: true })
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          if (records.length < count) records.push({ partition: 0, offset: Number(message.offset), key: message.key, value: message.value })
        },
      })
      if (!await until(() => records.length >= count, deadline)) {
        throw new DriverError('REQUEST_TIMED_OUT', `read ${records.length} of ${count} records`)
      }
      await consumer.pause([{ topic: source }])
      const txn = await producer.transaction()
      await txn.send({ topic: target, acks: -1, messages: records.map(r => ({ partition: 0, key: r.key, value: r.value })) })
      await txn.sendOffsets({
        consumerGroupId: group,
        topics: [{ topic: source, partitions: [{ partition: 0, offset: String(records[records.length - 1].offset + 1) }] }],
      })
      const result = { records: records.map(r => ({ partition: 0, offset: r.offset, value: r.value == null ? null : r.value.toString() })) }
      if (command.hold) {
        await new Promise(resolve => process.stdout.write(JSON.stringify({ held: result }) + '\n', resolve))
        await sleep(60000)
        await txn.abort()
      } else {
        await txn.commit()
      }
      return result
    } finally {
      await consumer.disconnect()
      await producer.disconnect()
    }
  }
}

main()
