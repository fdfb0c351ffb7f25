package main

// Fencing: two transactional producers with one transactional id, the second
// fences the first; and a consume-transform-produce worker that can be killed
// mid-transaction, whose successor (same transactional id and group) takes over.

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// holdFor is how long a held worker waits for its kill before it aborts.
const holdFor = 60 * time.Second

// fencedTransaction: producer a begins a transaction and sends first; producer b with the
// same transactional id sends second (its InitProducerId fences a and aborts a's transaction)
// and commits; a sends late and tries to commit. The errors a met, by Kafka's names.
func (d *driver) fencedTransaction(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Topic           string     `json:"topic"`
		TransactionalID string     `json:"transactional_id"`
		First           []recordIn `json:"first"`
		Second          []recordIn `json:"second"`
		Late            []recordIn `json:"late"`
	}](raw)
	if err != nil {
		return nil, err
	}
	opts, err := d.options(clientConfig{Acks: "all", TransactionalID: command.TransactionalID})
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := bounded(0)
	defer cancel()
	send := func(client *kgo.Client, records []recordIn) error {
		out := make([]*kgo.Record, 0, len(records))
		for _, r := range records {
			record, err := r.record(command.Topic)
			if err != nil {
				return err
			}
			out = append(out, record)
		}
		return client.ProduceSync(ctx, out...).FirstErr()
	}
	a, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	b, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	// franz-go initialises its producer id with the first produce of a transaction.
	if err := a.BeginTransaction(); err != nil {
		return nil, err
	}
	if err := send(a, command.First); err != nil {
		return nil, err
	}
	if err := b.BeginTransaction(); err != nil {
		return nil, err
	}
	if err := send(b, command.Second); err != nil {
		return nil, err
	}
	if err := b.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return nil, err
	}
	named := func(err error) any {
		if err == nil {
			return nil
		}
		name, _ := errorName(err)
		return name
	}
	out := map[string]any{"send": named(send(a, command.Late))}
	out["commit"] = named(a.EndTransaction(ctx, kgo.TryCommit))
	return out, nil
}

// transformWorker: a GroupTransactSession member of group (classic protocol, session
// timeout 6 s, so a killed predecessor leaves the group within seconds) copies count
// records of source to partition 0 of target and commits them with the group's offsets.
// Its producer id is initialised first: that InitProducerId aborts the transaction a
// killed predecessor left open, so the group's offsets are stable when it reads them.
// hold: print {"held": {records}} before the commit and wait to be killed.
func (d *driver) transformWorker(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Source          string `json:"source"`
		Target          string `json:"target"`
		Group           string `json:"group"`
		Count           int    `json:"count"`
		TransactionalID string `json:"transactional_id"`
		Hold            bool   `json:"hold"`
		TimeoutMs       int64  `json:"timeout_ms"`
	}](raw)
	if err != nil {
		return nil, err
	}
	opts, err := d.options(clientConfig{Acks: "all", TransactionalID: command.TransactionalID, Isolation: "read_committed",
		SessionTimeout: 6000})
	if err != nil {
		return nil, err
	}
	group, err := groupOptions(groupCommand{Group: command.Group, Topic: command.Source})
	if err != nil {
		return nil, err
	}
	opts = append(append(opts, group...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	session, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return nil, err
	}
	defer session.Close()
	ctx, cancel := bounded(command.TimeoutMs)
	defer cancel()
	if _, _, err := session.Client().ProducerID(ctx); err != nil {
		return nil, err
	}
	if err := session.Begin(); err != nil {
		return nil, err
	}
	records, err := copyRecords(ctx, session, command.Count, command.Target, false)
	if err != nil {
		return nil, err
	}
	result := map[string]any{"records": records}
	if command.Hold {
		held, _ := json.Marshal(map[string]any{"held": result})
		fmt.Fprintln(os.Stdout, string(held))
		time.Sleep(holdFor)
		session.End(ctx, kgo.TryAbort)
		return result, nil
	}
	if _, err := session.End(ctx, kgo.TryCommit); err != nil {
		return nil, err
	}
	return result, nil
}
