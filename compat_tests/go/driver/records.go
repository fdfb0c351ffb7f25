package main

// Produce, consume (assign and seek, no group) and list offsets.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type clientConfig struct {
	Acks            string `json:"acks"`
	Compression     string `json:"compression"`
	LingerMs        int64  `json:"linger_ms"`
	Idempotent      bool   `json:"idempotent"`
	Retries         *int   `json:"retries"`
	BatchMaxBytes   int32  `json:"batch_max_bytes"`
	TransactionalID string `json:"transactional_id"`
	Isolation       string `json:"isolation"`
	SessionTimeout  int64  `json:"session_timeout_ms"`
}

var codecs = map[string]kgo.CompressionCodec{
	"": kgo.NoCompression(), "none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
}

// options are the kgo options for config; acks default to "1" and idempotence off,
// as the suite's Java producer (idempotence needs acks all, so "idempotent" implies it).
func (d *driver) options(config clientConfig) ([]kgo.Opt, error) {
	// No kgo.RecordDeliveryTimeout: franz-go counts it from the record's timestamp, so
	// records stamped in the past would time out at once. Produce calls are bounded by
	// their context instead.
	opts := []kgo.Opt{kgo.SeedBrokers(d.bootstrap), kgo.FetchMaxWait(100 * time.Millisecond)}
	codec, ok := codecs[config.Compression]
	if !ok {
		return nil, fmt.Errorf("unknown compression %q", config.Compression)
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec))
	if config.LingerMs > 0 {
		opts = append(opts, kgo.ProducerLinger(time.Duration(config.LingerMs)*time.Millisecond))
	}
	if config.BatchMaxBytes > 0 { // Java's max.request.size: larger records fail in the client
		opts = append(opts, kgo.ProducerBatchMaxBytes(config.BatchMaxBytes), kgo.BrokerMaxWriteBytes(max(config.BatchMaxBytes, 100<<20)))
	}
	if config.Retries != nil {
		opts = append(opts, kgo.RecordRetries(*config.Retries))
	}
	idempotent := config.Idempotent || config.TransactionalID != ""
	switch {
	case config.Acks == "all" || config.Acks == "-1":
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case idempotent:
		return nil, fmt.Errorf("idempotence needs acks all, not %q", config.Acks)
	case config.Acks == "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	case config.Acks == "" || config.Acks == "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	default:
		return nil, fmt.Errorf("unknown acks %q", config.Acks)
	}
	if !idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	if config.TransactionalID != "" {
		opts = append(opts, kgo.TransactionalID(config.TransactionalID), kgo.TransactionTimeout(callTimeout))
	}
	switch config.Isolation {
	case "", "read_uncommitted":
	case "read_committed":
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	default:
		return nil, fmt.Errorf("unknown isolation %q", config.Isolation)
	}
	if config.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(time.Duration(config.SessionTimeout)*time.Millisecond))
	}
	return opts, nil
}

type recordIn struct {
	Partition *int32      `json:"partition"`
	Key       *string     `json:"key"`
	Value     *string     `json:"value"`
	Timestamp *int64      `json:"timestamp"`
	Headers   [][]*string `json:"headers"`
}

func unbase64(value *string) ([]byte, error) {
	if value == nil {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(*value)
}

func base64Of(value []byte) any {
	if value == nil {
		return nil
	}
	return base64.StdEncoding.EncodeToString(value)
}

func (r recordIn) record(topic string) (*kgo.Record, error) {
	key, err := unbase64(r.Key)
	if err != nil {
		return nil, err
	}
	value, err := unbase64(r.Value)
	if err != nil {
		return nil, err
	}
	record := &kgo.Record{Topic: topic, Key: key, Value: value}
	if r.Partition != nil {
		record.Partition = *r.Partition
	}
	if r.Timestamp != nil {
		record.Timestamp = time.UnixMilli(*r.Timestamp)
	}
	for _, h := range r.Headers {
		if len(h) != 2 || h[0] == nil {
			return nil, errors.New("a header is [name, value]")
		}
		hv, err := unbase64(h[1])
		if err != nil {
			return nil, err
		}
		record.Headers = append(record.Headers, kgo.RecordHeader{Key: *h[0], Value: hv})
	}
	return record, nil
}

func (d *driver) produce(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Topic       string       `json:"topic"`
		Records     []recordIn   `json:"records"`
		Config      clientConfig `json:"config"`
		Transaction string       `json:"transaction"`
	}](raw)
	if err != nil {
		return nil, err
	}
	records := make([]*kgo.Record, 0, len(command.Records))
	explicit := 0
	for _, r := range command.Records {
		record, err := r.record(command.Topic)
		if err != nil {
			return nil, err
		}
		if r.Partition != nil {
			explicit++
		}
		records = append(records, record)
	}
	opts, err := d.options(command.Config)
	if err != nil {
		return nil, err
	}
	switch explicit {
	case 0: // franz-go's default partitioner (murmur2 for keyed records, as Java's)
	case len(records):
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	default:
		return nil, errors.New("either every record names its partition or none does")
	}
	if (command.Transaction != "") != (command.Config.TransactionalID != "") {
		return nil, errors.New("transaction (commit or abort) goes with config.transactional_id")
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	ctx, cancel := bounded(0)
	defer cancel()
	if command.Transaction != "" {
		if err := client.BeginTransaction(); err != nil {
			return nil, err
		}
	}
	results := client.ProduceSync(ctx, records...)
	if err := results.FirstErr(); err != nil {
		if command.Transaction != "" {
			client.AbortBufferedRecords(ctx)
			client.EndTransaction(ctx, kgo.TryAbort)
		}
		return nil, err
	}
	if command.Transaction != "" {
		end := map[string]kgo.TransactionEndTry{"commit": kgo.TryCommit, "abort": kgo.TryAbort}
		try, ok := end[command.Transaction]
		if !ok {
			return nil, fmt.Errorf("transaction is commit or abort, not %q", command.Transaction)
		}
		if err := client.EndTransaction(ctx, try); err != nil {
			return nil, err
		}
	}
	out := []any{}
	for _, result := range results {
		out = append(out, map[string]any{"partition": result.Record.Partition, "offset": result.Record.Offset,
			"timestamp": result.Record.Timestamp.UnixMilli()})
	}
	return out, nil
}

func recordOut(r *kgo.Record) map[string]any {
	headers := []any{}
	for _, h := range r.Headers {
		headers = append(headers, []any{h.Key, base64Of(h.Value)})
	}
	timestampType := "CreateTime"
	if r.Attrs.TimestampType() == 1 {
		timestampType = "LogAppendTime"
	}
	return map[string]any{"partition": r.Partition, "offset": r.Offset, "timestamp": r.Timestamp.UnixMilli(),
		"timestamp_type": timestampType, "key": base64Of(r.Key), "value": base64Of(r.Value), "headers": headers,
		"leader_epoch": r.LeaderEpoch}
}

// startOffset reads an offset given as a number, "earliest" or "latest".
func startOffset(raw json.RawMessage) (kgo.Offset, error) {
	var name string
	if json.Unmarshal(raw, &name) == nil {
		switch name {
		case "earliest":
			return kgo.NewOffset().AtStart(), nil
		case "latest":
			return kgo.NewOffset().AtEnd(), nil
		}
		return kgo.Offset{}, fmt.Errorf("unknown offset %q", name)
	}
	var at int64
	if err := json.Unmarshal(raw, &at); err != nil {
		return kgo.Offset{}, err
	}
	return kgo.NewOffset().At(at), nil
}

func (d *driver) consume(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Topic     string          `json:"topic"`
		Partition int32           `json:"partition"`
		Offset    json.RawMessage `json:"offset"`
		Count     int             `json:"count"`
		TimeoutMs int64           `json:"timeout_ms"`
		Config    clientConfig    `json:"config"`
		Reset     string          `json:"reset"`
		MaxWaitMs int64           `json:"max_wait_ms"`
		Group     string          `json:"group"`
	}](raw)
	if err != nil {
		return nil, err
	}
	opts, err := d.options(command.Config)
	if err != nil {
		return nil, err
	}
	if command.MaxWaitMs > 0 {
		opts = append(opts, kgo.FetchMaxWait(time.Duration(command.MaxWaitMs)*time.Millisecond))
	}
	resets := map[string]kgo.Offset{"earliest": kgo.NewOffset().AtStart(), "latest": kgo.NewOffset().AtEnd(), "none": kgo.NoResetOffset()}
	if command.Reset != "" {
		reset, ok := resets[command.Reset]
		if !ok {
			return nil, fmt.Errorf("unknown reset policy %q", command.Reset)
		}
		opts = append(opts, kgo.ConsumeResetOffset(reset))
	}
	if command.Offset == nil || string(command.Offset) == "null" {
		// From the group's committed offset (of a group that has none: the reset policy decides).
		opts = append(opts, kgo.ConsumerGroup(command.Group), kgo.ConsumeTopics(command.Topic), kgo.DisableAutoCommit())
	} else {
		offset, err := startOffset(command.Offset)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{command.Topic: {command.Partition: offset}}))
	}
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	ctx, cancel := bounded(command.TimeoutMs)
	defer cancel()
	out := []any{}
	for len(out) < command.Count && ctx.Err() == nil {
		fetches := client.PollRecords(ctx, command.Count-len(out))
		for _, fe := range fetches.Errors() {
			if !errors.Is(fe.Err, context.DeadlineExceeded) {
				return nil, fe.Err
			}
		}
		for _, r := range fetches.Records() {
			if r.Partition == command.Partition {
				out = append(out, recordOut(r))
			}
		}
	}
	return out, nil
}

func (d *driver) offsets(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Topic      string  `json:"topic"`
		Partitions []int32 `json:"partitions"`
		Times      []int64 `json:"times"`
	}](raw)
	if err != nil {
		return nil, err
	}
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		byPartition := func(listed kadm.ListedOffsets, found func(kadm.ListedOffset) any) (map[string]any, error) {
			if err := listed.Error(); err != nil {
				return nil, err
			}
			out := map[string]any{}
			for _, p := range command.Partitions {
				offset, ok := listed.Lookup(command.Topic, p)
				if !ok {
					return nil, fmt.Errorf("no offset listed for partition %d", p)
				}
				out[strconv.Itoa(int(p))] = found(offset)
			}
			return out, nil
		}
		plain := func(o kadm.ListedOffset) any { return o.Offset }
		start, err := admin.ListStartOffsets(ctx, command.Topic)
		if err != nil {
			return nil, err
		}
		beginning, err := byPartition(start, plain)
		if err != nil {
			return nil, err
		}
		end, err := admin.ListEndOffsets(ctx, command.Topic)
		if err != nil {
			return nil, err
		}
		ends, err := byPartition(end, plain)
		if err != nil {
			return nil, err
		}
		forTimes := map[string]any{}
		for _, ms := range command.Times {
			listed, err := admin.ListOffsetsAfterMilli(ctx, ms, command.Topic)
			if err != nil {
				return nil, err
			}
			// kadm answers "nothing at or after ms" with the end offset and timestamp -1
			// (Kafka answers offset -1); null, as Java's offsetsForTimes says it.
			found, err := byPartition(listed, func(o kadm.ListedOffset) any {
				if o.Offset < 0 || o.Timestamp < 0 {
					return nil
				}
				return []int64{o.Offset, o.Timestamp}
			})
			if err != nil {
				return nil, err
			}
			forTimes[strconv.FormatInt(ms, 10)] = found
		}
		return map[string]any{"beginning": beginning, "end": ends, "for_times": forTimes}, nil
	})
}
