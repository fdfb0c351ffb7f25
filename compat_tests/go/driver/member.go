package main

// group_member: one classic group member for compat_tests' base.MemberProcess,
// which runs the driver with this one command and reads the events it prints
// (one JSON object a line, before the command's own answer):
// {"assigned": [p], "generation": g} after each assignment (the whole
// assignment; the generation from Client.GroupMetadata), {"revoked": [p]} and
// {"lost": [p]} from the rebalance callbacks, {"records": [{partition, offset,
// value}]} for each poll before it is committed (CommitOffsetsSync), and
// {"commit_error": name} when that commit fails. SIGTERM closes the client: a
// dynamic member leaves the group, a static one (instance_id) does not, as
// franz-go documents for kgo.InstanceID. SIGKILL is a crash.

import (
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type memberCommand struct {
	Topic            string `json:"topic"`
	Group            string `json:"group"`
	SessionTimeoutMs int64  `json:"session_timeout_ms"`
	InstanceID       string `json:"instance_id"`
}

var emitLock sync.Mutex

func emit(event map[string]any) {
	line, _ := json.Marshal(event)
	emitLock.Lock()
	defer emitLock.Unlock()
	os.Stdout.Write(append(line, '\n'))
}

func (d *driver) groupMember(raw json.RawMessage) (any, error) {
	command, err := decode[memberCommand](raw)
	if err != nil {
		return nil, err
	}
	stop, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	opts, err := d.options(clientConfig{SessionTimeout: command.SessionTimeoutMs})
	if err != nil {
		return nil, err
	}
	group, err := groupOptions(groupCommand{Topic: command.Topic, Group: command.Group})
	if err != nil {
		return nil, err
	}
	opts = append(opts, group...)
	opts = append(opts, kgo.HeartbeatInterval(time.Duration(command.SessionTimeoutMs/3)*time.Millisecond))
	if command.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(command.InstanceID))
	}
	var mu sync.Mutex
	owned := map[int32]bool{}
	var client *kgo.Client
	gaveUp := func(kind string) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, partitions map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			gone := map[int32]bool{}
			for _, p := range partitions[command.Topic] {
				delete(owned, p)
				gone[p] = true
			}
			emit(map[string]any{kind: sortedSet(gone)})
		}
	}
	opts = append(opts,
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, partitions map[string][]int32) {
			mu.Lock()
			defer mu.Unlock()
			for _, p := range partitions[command.Topic] {
				owned[p] = true
			}
			_, generation := cl.GroupMetadata()
			emit(map[string]any{"assigned": sortedSet(owned), "generation": generation})
		}),
		kgo.OnPartitionsRevoked(gaveUp("revoked")),
		kgo.OnPartitionsLost(gaveUp("lost")))
	client, err = kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	for stop.Err() == nil {
		short, done := context.WithTimeout(stop, 100*time.Millisecond)
		fetches := client.PollRecords(short, 1000)
		done()
		if err := fetchError(fetches); err != nil {
			return nil, err
		}
		records := []any{}
		commit := map[string]map[int32]kgo.EpochOffset{}
		for _, r := range fetches.Records() {
			records = append(records, map[string]any{"partition": r.Partition, "offset": r.Offset, "value": string(r.Value)})
			if commit[r.Topic] == nil {
				commit[r.Topic] = map[int32]kgo.EpochOffset{}
			}
			commit[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		}
		if len(records) == 0 {
			continue
		}
		emit(map[string]any{"records": records})
		committing, done := context.WithTimeout(context.Background(), callTimeout)
		err := commitSync(committing, client, commit)
		done()
		if err != nil {
			name, _ := errorName(err)
			emit(map[string]any{"commit_error": name})
		}
	}
	return nil, nil
}
