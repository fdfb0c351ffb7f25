package main

// Consume-transform-produce in one transaction (kgo.GroupTransactSession: the
// consumed offsets are committed through TxnOffsetCommit inside the
// transaction that produced the output, read_committed input).

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func (d *driver) transform(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		groupCommand
		Output      string `json:"output"`
		Transaction string `json:"transaction"` // commit or abort
	}](raw)
	if err != nil {
		return nil, err
	}
	if command.Config.TransactionalID == "" {
		return nil, errors.New("transform needs config.transactional_id")
	}
	command.Config.Acks = "all"
	command.Config.Isolation = "read_committed"
	opts, err := d.options(command.Config)
	if err != nil {
		return nil, err
	}
	group, err := groupOptions(command.groupCommand)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner())) // output partition = input partition
	session, err := kgo.NewGroupTransactSession(append(opts, group...)...)
	if err != nil {
		return nil, err
	}
	defer session.Close()
	ctx, cancel := bounded(command.TimeoutMs)
	defer cancel()
	if err := session.Begin(); err != nil {
		return nil, err
	}
	records, err := copyRecords(ctx, session, command.Count, command.Output, true)
	if err != nil {
		return nil, err
	}
	committed, err := session.End(ctx, command.Transaction == "commit")
	if err != nil {
		return nil, err
	}
	return map[string]any{"records": records, "committed": committed}, nil
}

// copyRecords polls count records in session's transaction and produces each to output: to
// its own partition (samePartition) or to partition 0. The answer lists what was read; a
// failed produce aborts the transaction.
func copyRecords(ctx context.Context, session *kgo.GroupTransactSession, count int, output string,
	samePartition bool) ([]any, error) {
	records := []any{}
	for len(records) < count && ctx.Err() == nil {
		short, stop := context.WithTimeout(ctx, 100*time.Millisecond)
		fetches := session.PollRecords(short, count-len(records))
		stop()
		if err := fetchError(fetches); err != nil {
			return nil, err
		}
		for _, r := range fetches.Records() {
			records = append(records, map[string]any{"partition": r.Partition, "offset": r.Offset, "value": string(r.Value)})
			out := &kgo.Record{Topic: output, Key: r.Key, Value: r.Value}
			if samePartition {
				out.Partition = r.Partition
			}
			if err := session.ProduceSync(ctx, out).FirstErr(); err != nil {
				session.End(ctx, kgo.TryAbort)
				return nil, err
			}
		}
	}
	return records, nil
}
