// Command driver drives franz-go (kgo and kadm) for kwire's compatibility
// suite (compat_tests/clients/franz.py), speaking the Java driver's protocol:
//
//	driver BOOTSTRAP < commands.json
//
// stdin is one JSON list of commands, read one element at a time, so the
// caller may keep stdin open and send the next command after reading the
// previous answer. For each command one line of JSON goes to stdout:
// {"ok": RESULT} or {"error": "KAFKA_ERROR_NAME", "message": "..."}. Byte
// strings (keys, values, header values) travel as base64, null as null.
// Kafka errors are reported by Kafka's names (franz-go's kerr errors carry
// the code); a client-side deadline is REQUEST_TIMED_OUT, anything else
// CLIENT_ERROR with the message.
//
// Commands ("op" and its fields; the Java driver's shapes where it has the
// same command):
//
//	create_topics     topics: [{name, partitions, replication_factor, configs}] -> {name: null | {error, message}}
//	list_topics       -> sorted names
//	describe_topics   topics: [name] -> {name: {id, internal, partitions: [{partition, leader, replicas, isr}]} | {error, message}}
//	delete_topics     topics: [name] -> {name: null | {error, message}}
//	create_partitions topic, count -> null
//	describe_configs  topic -> [{name, value, source, read_only, sensitive}]
//	alter_configs     topic, set: {name: value}, delete: [name], incremental (default true; false: the legacy
//	                  AlterConfigs, which replaces every override) -> null
//	describe_cluster  -> {cluster_id, controller, nodes: [{id, host, port}]}
//	produce           topic, config, records: [{partition, key, value, timestamp, headers: [[name, value]]}],
//	                  transaction: "commit" | "abort" (with config.transactional_id) -> [{partition, offset, timestamp}]
//	consume           topic, partition, offset (number, "earliest", "latest"), count, timeout_ms, config
//	                  -> [{partition, offset, timestamp, timestamp_type, key, value, headers, leader_epoch}]
//	offsets           topic, partitions, times -> {beginning: {p: o}, end: {p: o}, for_times: {"ms": {p: null | [offset, timestamp]}}}
//	group_consume     topic, group, protocol, assignor, count, assigned, timeout_ms, config
//	                  -> {assigned: [p], records: [{partition, offset, value}], committed: {p: offset}}
//	group_rebalance   topic, group, protocol, assignor, partitions, timeout_ms
//	                  -> {first: [p], a: [p], b: [p], a_revoked: [p], a_lost: [p]}
//	describe_groups   groups: [name], protocol -> {name: {state, protocol_type, protocol, members: [{client_id, assigned: [[topic, p]]}]}
//	                  | {error, message}} (DescribeGroups; protocol "consumer": ConsumerGroupDescribe, {state, assignor, members})
//	list_groups       -> {name: {state, protocol_type, group_type}}
//	delete_groups     groups: [name] -> {name: null | {error, message}}
//	group_offsets     group, topic -> {state, committed: {p: offset}, lag: {p: lag}}
//	group_member      topic, group, session_timeout_ms, instance_id: a member printing its events until SIGTERM
//	                  (see member.go) -> null
//	transform         topic (the input), output, group, count, transaction ("commit" | "abort"), timeout_ms, config (GroupTransactSession:
//	                  consume count records, produce them to output, end the transaction) -> {records: [{partition, offset, value}], committed}
//	fenced_transaction topic, transactional_id, first, second, late: [record] (see fencing.go) -> {send: null | error, commit: null | error}
//	transform_worker  source, target, group, count, transactional_id, hold, timeout_ms (see fencing.go) -> {records: [{partition, offset, value}]}
//
// Producer config (franz-go's options by this driver's names): acks ("0", "1",
// "all"), compression, linger_ms, idempotent, retries, batch_max_bytes,
// transactional_id. consume also takes reset ("earliest", "latest", "none"),
// max_wait_ms, and group with a null offset (the group's committed offset).
// Consumer config: isolation ("read_committed" | "read_uncommitted"),
// session_timeout_ms. Every call is bounded by timeout_ms or callTimeout.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const callTimeout = 30 * time.Second

type driver struct {
	bootstrap string
}

// kafkaError is an error answer whose name is already Kafka's.
type kafkaError struct {
	name, message string
}

func (e *kafkaError) Error() string { return e.name + ": " + e.message }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: driver BOOTSTRAP < commands.json")
		os.Exit(2)
	}
	d := &driver{bootstrap: os.Args[1]}
	in := json.NewDecoder(bufio.NewReader(os.Stdin))
	in.UseNumber()
	out := bufio.NewWriter(os.Stdout)
	if tok, err := in.Token(); err != nil || tok != json.Delim('[') {
		fmt.Fprintln(os.Stderr, "expected one JSON list of commands on stdin")
		os.Exit(2)
	}
	for in.More() {
		var raw json.RawMessage
		if err := in.Decode(&raw); err != nil {
			fmt.Fprintln(os.Stderr, "bad command:", err)
			os.Exit(2)
		}
		answer := map[string]any{}
		if result, err := d.run(raw); err != nil {
			name, message := errorName(err)
			answer["error"], answer["message"] = name, message
		} else {
			answer["ok"] = result
		}
		line, err := json.Marshal(answer)
		if err != nil {
			line, _ = json.Marshal(map[string]any{"error": "CLIENT_ERROR", "message": err.Error()})
		}
		out.Write(append(line, '\n'))
		out.Flush()
	}
	if _, err := in.Token(); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(os.Stderr, "bad end of the command list:", err)
		os.Exit(2)
	}
}

func (d *driver) run(raw json.RawMessage) (any, error) {
	var head struct {
		Op string `json:"op"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, err
	}
	handlers := map[string]func(json.RawMessage) (any, error){
		"create_topics":      d.createTopics,
		"list_topics":        d.listTopics,
		"describe_topics":    d.describeTopics,
		"delete_topics":      d.deleteTopics,
		"create_partitions":  d.createPartitions,
		"describe_configs":   d.describeConfigs,
		"alter_configs":      d.alterConfigs,
		"describe_cluster":   d.describeCluster,
		"produce":            d.produce,
		"consume":            d.consume,
		"offsets":            d.offsets,
		"group_consume":      d.groupConsume,
		"group_rebalance":    d.groupRebalance,
		"describe_groups":    d.describeGroups,
		"list_groups":        d.listGroups,
		"delete_groups":      d.deleteGroups,
		"group_offsets":      d.groupOffsets,
		"group_member":       d.groupMember,
		"transform":          d.transform,
		"fenced_transaction": d.fencedTransaction,
		"transform_worker":   d.transformWorker,
	}
	handler, ok := handlers[head.Op]
	if !ok {
		return nil, fmt.Errorf("unknown op %q", head.Op)
	}
	return handler(raw)
}

// errorName is Kafka's name for err, and a message.
func errorName(err error) (string, string) {
	var ke *kerr.Error
	var named *kafkaError
	switch {
	case errors.As(err, &named):
		return named.name, named.message
	case errors.As(err, &ke):
		return ke.Message, err.Error()
	case errors.Is(err, kgo.ErrRecordTimeout), errors.Is(err, context.DeadlineExceeded):
		return "REQUEST_TIMED_OUT", err.Error()
	default:
		return "CLIENT_ERROR", err.Error()
	}
}

// perName is an admin answer per topic or group: null, or the error.
func perName(err error) any {
	if err == nil {
		return nil
	}
	name, message := errorName(err)
	return map[string]any{"error": name, "message": message}
}

// byName answers every requested name from a kadm per-name answer: perName of
// its error if it failed, else describe of it; a name missing is an error.
func byName[T any](kind string, names []string, answers map[string]T, errOf func(T) error, describe func(T) any) (map[string]any, error) {
	out := map[string]any{}
	for _, name := range names {
		answer, ok := answers[name]
		if !ok {
			return nil, fmt.Errorf("%s %s is not in the answer", kind, name)
		}
		if err := errOf(answer); err != nil {
			out[name] = perName(err)
			continue
		}
		out[name] = describe(answer)
	}
	return out, nil
}

func bounded(timeoutMs int64) (context.Context, context.CancelFunc) {
	timeout := callTimeout
	if timeoutMs > 0 {
		timeout = time.Duration(timeoutMs) * time.Millisecond
	}
	return context.WithTimeout(context.Background(), timeout)
}

func decode[T any](raw json.RawMessage) (T, error) {
	var value T
	err := json.Unmarshal(raw, &value)
	return value, err
}
