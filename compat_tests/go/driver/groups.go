package main

// Consumer groups: members (classic protocol with franz-go's balancers, or
// KIP-848's consumer protocol through kgo.ServerSideBalancer) and the group
// admin calls of kadm.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type groupCommand struct {
	Topic      string       `json:"topic"`
	Group      string       `json:"group"`
	Protocol   string       `json:"protocol"` // "classic" (default) or "consumer" (KIP-848)
	Assignor   string       `json:"assignor"` // classic: range, roundrobin, sticky, cooperative-sticky; consumer: uniform, range
	Count      int          `json:"count"`
	Assigned   *int         `json:"assigned"`
	Partitions int          `json:"partitions"`
	TimeoutMs  int64        `json:"timeout_ms"`
	Config     clientConfig `json:"config"`
}

// groupOptions are the group options of a member of command's group.
func groupOptions(command groupCommand) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.ConsumerGroup(command.Group), kgo.ConsumeTopics(command.Topic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	classic := map[string]kgo.GroupBalancer{"": kgo.CooperativeStickyBalancer(), "range": kgo.RangeBalancer(),
		"roundrobin": kgo.RoundRobinBalancer(), "sticky": kgo.StickyBalancer(), "cooperative-sticky": kgo.CooperativeStickyBalancer()}
	// franz-go asks the broker for "uniform" when its first balancer is the sticky one, "range" for range.
	consumer := map[string]kgo.GroupBalancer{"": kgo.StickyBalancer(), "uniform": kgo.StickyBalancer(), "range": kgo.RangeBalancer()}
	switch command.Protocol {
	case "", "classic":
		balancer, ok := classic[command.Assignor]
		if !ok {
			return nil, fmt.Errorf("unknown classic assignor %q", command.Assignor)
		}
		return append(opts, kgo.Balancers(balancer)), nil
	case "consumer":
		balancer, ok := consumer[command.Assignor]
		if !ok {
			return nil, fmt.Errorf("unknown consumer-protocol assignor %q", command.Assignor)
		}
		return append(opts, kgo.Balancers(balancer), kgo.ServerSideBalancer()), nil
	default:
		return nil, fmt.Errorf("unknown group protocol %q", command.Protocol)
	}
}

// member is one group member and what its rebalance callbacks told it.
type member struct {
	client   *kgo.Client
	mu       sync.Mutex
	current  map[int32]bool
	revoked  map[int32]bool
	lost     map[int32]bool
	assigned int // calls of OnPartitionsAssigned
}

func (d *driver) newMember(command groupCommand) (*member, error) {
	opts, err := d.options(command.Config)
	if err != nil {
		return nil, err
	}
	group, err := groupOptions(command)
	if err != nil {
		return nil, err
	}
	m := &member{current: map[int32]bool{}, revoked: map[int32]bool{}, lost: map[int32]bool{}}
	update := func(partitions map[string][]int32, add bool, into map[int32]bool) {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, p := range partitions[command.Topic] {
			if add {
				m.current[p] = true
			} else {
				delete(m.current, p)
			}
			if into != nil {
				into[p] = true
			}
		}
	}
	opts = append(opts, group...)
	opts = append(opts,
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, p map[string][]int32) {
			update(p, true, nil)
			m.mu.Lock()
			m.assigned++
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, p map[string][]int32) { update(p, false, m.revoked) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, p map[string][]int32) { update(p, false, m.lost) }))
	m.client, err = kgo.NewClient(opts...)
	return m, err
}

func sortedSet(set map[int32]bool) []int32 {
	out := []int32{}
	for p := range set {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (m *member) assignment() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return sortedSet(m.current)
}

// poll gives the member a short poll (the records are dropped) or the fetch error.
func (m *member) poll(ctx context.Context) error {
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	return fetchError(m.client.PollRecords(short, 1000))
}

func fetchError(fetches kgo.Fetches) error {
	for _, fe := range fetches.Errors() {
		if !errors.Is(fe.Err, context.DeadlineExceeded) && !errors.Is(fe.Err, context.Canceled) {
			return fe.Err
		}
	}
	return nil
}

func (d *driver) groupConsume(raw json.RawMessage) (any, error) {
	command, err := decode[groupCommand](raw)
	if err != nil {
		return nil, err
	}
	m, err := d.newMember(command)
	if err != nil {
		return nil, err
	}
	defer m.client.Close() // leaves the group
	ctx, cancel := bounded(command.TimeoutMs)
	defer cancel()
	records := []any{}
	commit := map[string]map[int32]kgo.EpochOffset{}
	for ctx.Err() == nil {
		if len(records) >= command.Count && (command.Assigned == nil || len(m.assignment()) == *command.Assigned) {
			break
		}
		short, stop := context.WithTimeout(ctx, 100*time.Millisecond)
		fetches := m.client.PollRecords(short, 1000)
		stop()
		if err := fetchError(fetches); err != nil {
			return nil, err
		}
		for _, r := range fetches.Records() {
			if len(records) >= command.Count {
				break
			}
			records = append(records, map[string]any{"partition": r.Partition, "offset": r.Offset, "value": string(r.Value)})
			if commit[r.Topic] == nil {
				commit[r.Topic] = map[int32]kgo.EpochOffset{}
			}
			commit[r.Topic][r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		}
	}
	// Only the records taken are committed (a poll may return more than count).
	if len(commit) > 0 {
		if err := commitSync(ctx, m.client, commit); err != nil {
			return nil, err
		}
	}
	assigned := m.assignment()
	committed, err := d.committedOffsets(ctx, command.Group, command.Topic)
	if err != nil {
		return nil, err
	}
	mine := map[string]any{}
	for _, p := range assigned {
		key := strconv.Itoa(int(p))
		mine[key] = committed[key]
	}
	return map[string]any{"assigned": assigned, "records": records, "committed": mine}, nil
}

func commitSync(ctx context.Context, client *kgo.Client, offsets map[string]map[int32]kgo.EpochOffset) error {
	var failed error
	client.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			failed = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if failed == nil {
					failed = kerr.ErrorForCode(p.ErrorCode)
				}
			}
		}
	})
	return failed
}

// committedOffsets are the group's committed offsets on topic by partition (absent: none).
func (d *driver) committedOffsets(ctx context.Context, group, topic string) (map[string]any, error) {
	admin, err := d.admin()
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	fetched, err := admin.FetchOffsetsForTopics(ctx, group, topic)
	if err != nil {
		return nil, err
	}
	if err := fetched.Error(); err != nil {
		return nil, err
	}
	out := map[string]any{}
	for p, o := range fetched[topic] {
		if o.At >= 0 {
			out[strconv.Itoa(int(p))] = o.At
		}
	}
	return out, nil
}

// groupRebalance: member a joins alone and waits for every partition; then member b
// joins and both wait until they split the partitions. What a lost (revoked or lost)
// on the way tells eager from cooperative rebalancing.
func (d *driver) groupRebalance(raw json.RawMessage) (any, error) {
	command, err := decode[groupCommand](raw)
	if err != nil {
		return nil, err
	}
	ctx, cancel := bounded(command.TimeoutMs)
	defer cancel()
	a, err := d.newMember(command)
	if err != nil {
		return nil, err
	}
	defer a.client.Close()
	for len(a.assignment()) < command.Partitions {
		if ctx.Err() != nil {
			return nil, &kafkaError{"REQUEST_TIMED_OUT", fmt.Sprintf("the first member has %v", a.assignment())}
		}
		if err := a.poll(ctx); err != nil {
			return nil, err
		}
	}
	first := a.assignment()
	a.mu.Lock()
	a.revoked, a.lost = map[int32]bool{}, map[int32]bool{}
	a.mu.Unlock()
	b, err := d.newMember(command)
	if err != nil {
		return nil, err
	}
	defer b.client.Close()
	for !split(a.assignment(), b.assignment(), command.Partitions) {
		if ctx.Err() != nil {
			return nil, &kafkaError{"REQUEST_TIMED_OUT", fmt.Sprintf("the members have %v and %v", a.assignment(), b.assignment())}
		}
		for _, m := range []*member{a, b} {
			if err := m.poll(ctx); err != nil {
				return nil, err
			}
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return map[string]any{"first": first, "a": sortedSet(a.current), "b": b.assignment(),
		"a_revoked": sortedSet(a.revoked), "a_lost": sortedSet(a.lost)}, nil
}

// split: both have partitions, none twice, all of them.
func split(a, b []int32, partitions int) bool {
	seen := map[int32]bool{}
	for _, p := range append(append([]int32{}, a...), b...) {
		if seen[p] {
			return false
		}
		seen[p] = true
	}
	return len(a) > 0 && len(b) > 0 && len(seen) == partitions
}

func (d *driver) describeGroups(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Groups   []string `json:"groups"`
		Protocol string   `json:"protocol"`
	}](raw)
	if err != nil {
		return nil, err
	}
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		if command.Protocol == "consumer" { // KIP-848 groups through ConsumerGroupDescribe
			described, err := admin.DescribeConsumerGroups(ctx, command.Groups...)
			if err != nil && len(described) == 0 {
				return nil, err
			}
			return byName("group", command.Groups, described, func(g kadm.DescribedConsumerGroup) error { return g.Err }, func(g kadm.DescribedConsumerGroup) any {
				members := []any{}
				for _, m := range g.Members {
					members = append(members, map[string]any{"client_id": m.ClientID, "assigned": topicPartitions(m.Assignment)})
				}
				return map[string]any{"state": g.State, "assignor": g.AssignorName, "members": members}
			})
		}
		described, err := admin.DescribeGroups(ctx, command.Groups...)
		if err != nil && len(described) == 0 {
			return nil, err
		}
		return byName("group", command.Groups, described, func(g kadm.DescribedGroup) error { return g.Err }, func(g kadm.DescribedGroup) any {
			members := []any{}
			for _, m := range g.Members {
				assigned := []any{}
				if c, ok := m.Assigned.AsConsumer(); ok {
					for _, t := range c.Topics {
						for _, p := range t.Partitions {
							assigned = append(assigned, []any{t.Topic, p})
						}
					}
				}
				members = append(members, map[string]any{"client_id": m.ClientID, "assigned": assigned})
			}
			return map[string]any{"state": g.State, "protocol_type": g.ProtocolType, "protocol": g.Protocol, "members": members}
		})
	})
}

func topicPartitions(set kadm.TopicsSet) []any {
	out := []any{}
	for _, tp := range set.Sorted() {
		for _, p := range tp.Partitions {
			out = append(out, []any{tp.Topic, p})
		}
	}
	return out
}

func (d *driver) listGroups(json.RawMessage) (any, error) {
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		listed, err := admin.ListGroups(ctx)
		if err != nil {
			return nil, err
		}
		out := map[string]any{}
		for name, g := range listed {
			out[name] = map[string]any{"state": g.State, "protocol_type": g.ProtocolType, "group_type": g.GroupType}
		}
		return out, nil
	})
}

func (d *driver) deleteGroups(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Groups []string `json:"groups"`
	}](raw)
	if err != nil {
		return nil, err
	}
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		deleted, err := admin.DeleteGroups(ctx, command.Groups...)
		if err != nil && len(deleted) == 0 {
			return nil, err
		}
		return byName("group", command.Groups, deleted, func(r kadm.DeleteGroupResponse) error { return r.Err }, func(kadm.DeleteGroupResponse) any { return nil })
	})
}

// groupOffsets: committed offsets and lag (kadm.Lag: end offset minus commit).
func (d *driver) groupOffsets(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Group string `json:"group"`
		Topic string `json:"topic"`
	}](raw)
	if err != nil {
		return nil, err
	}
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		lags, err := admin.Lag(ctx, command.Group)
		if err != nil {
			return nil, err
		}
		described, ok := lags[command.Group]
		if !ok {
			return nil, fmt.Errorf("no lag for group %s", command.Group)
		}
		if err := described.Error(); err != nil {
			return nil, err
		}
		committed, lag := map[string]any{}, map[string]any{}
		for p, l := range described.Lag[command.Topic] {
			if l.Err != nil {
				return nil, l.Err
			}
			committed[strconv.Itoa(int(p))] = l.Commit.At
			lag[strconv.Itoa(int(p))] = l.Lag
		}
		return map[string]any{"state": described.State, "committed": committed, "lag": lag}, nil
	})
}
