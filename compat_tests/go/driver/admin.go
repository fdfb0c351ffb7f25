package main

// Topic, config and cluster commands through kadm.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// admin is a kadm client on a fresh kgo client; the caller closes it.
func (d *driver) admin() (*kadm.Client, error) {
	client, err := kgo.NewClient(kgo.SeedBrokers(d.bootstrap), kgo.RequestTimeoutOverhead(callTimeout/2))
	if err != nil {
		return nil, err
	}
	return kadm.NewClient(client), nil
}

// withAdmin runs call with a fresh admin client, bounded by callTimeout.
func (d *driver) withAdmin(call func(ctx context.Context, admin *kadm.Client) (any, error)) (any, error) {
	admin, err := d.admin()
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	ctx, cancel := bounded(0)
	defer cancel()
	return call(ctx, admin)
}

type topicSpec struct {
	Name              string            `json:"name"`
	Partitions        int32             `json:"partitions"`
	ReplicationFactor int16             `json:"replication_factor"`
	Configs           map[string]string `json:"configs"`
}

func (d *driver) createTopics(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Topics []topicSpec `json:"topics"`
	}](raw)
	if err != nil {
		return nil, err
	}
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		out := map[string]any{}
		for _, spec := range command.Topics {
			partitions, rf := spec.Partitions, spec.ReplicationFactor
			if partitions == 0 {
				partitions = 1
			}
			if rf == 0 {
				rf = 1
			}
			configs := map[string]*string{}
			for name, value := range spec.Configs {
				configs[name] = kadm.StringPtr(value)
			}
			// One request per topic: kadm gives every topic of a request the same partition count.
			created, err := admin.CreateTopics(ctx, partitions, rf, configs, spec.Name)
			if err != nil {
				return nil, err
			}
			out[spec.Name] = perName(created[spec.Name].Err)
		}
		return out, nil
	})
}

func (d *driver) listTopics(json.RawMessage) (any, error) {
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		topics, err := admin.ListTopics(ctx)
		if err != nil {
			return nil, err
		}
		return topics.Names(), nil
	})
}

func (d *driver) describeTopics(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Topics []string `json:"topics"`
	}](raw)
	if err != nil {
		return nil, err
	}
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		topics, err := admin.ListTopicsWithInternal(ctx, command.Topics...)
		if err != nil {
			return nil, err
		}
		return byName("topic", command.Topics, topics, func(t kadm.TopicDetail) error { return t.Err }, func(topic kadm.TopicDetail) any {
			partitions := []any{}
			for _, p := range topic.Partitions.Sorted() {
				partitions = append(partitions, map[string]any{"partition": p.Partition, "leader": p.Leader,
					"replicas": sorted32(p.Replicas), "isr": sorted32(p.ISR)})
			}
			return map[string]any{"id": topic.ID.String(), "internal": topic.IsInternal, "partitions": partitions}
		})
	})
}

func sorted32(values []int32) []int32 {
	out := append([]int32{}, values...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func (d *driver) deleteTopics(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Topics []string `json:"topics"`
	}](raw)
	if err != nil {
		return nil, err
	}
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		deleted, err := admin.DeleteTopics(ctx, command.Topics...)
		if err != nil {
			return nil, err
		}
		out := map[string]any{}
		for _, name := range command.Topics {
			out[name] = perName(deleted[name].Err)
		}
		return out, nil
	})
}

func (d *driver) createPartitions(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Topic string `json:"topic"`
		Count int    `json:"count"`
	}](raw)
	if err != nil {
		return nil, err
	}
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		answer, err := admin.UpdatePartitions(ctx, command.Count, command.Topic)
		if err != nil {
			return nil, err
		}
		return nil, answer.Error()
	})
}

// describeConfigs sends DescribeConfigs itself (kmsg): kadm's Config has no read-only flag.
func (d *driver) describeConfigs(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Topic string `json:"topic"`
	}](raw)
	if err != nil {
		return nil, err
	}
	client, err := kgo.NewClient(kgo.SeedBrokers(d.bootstrap))
	if err != nil {
		return nil, err
	}
	defer client.Close()
	ctx, cancel := bounded(0)
	defer cancel()
	req := kmsg.NewPtrDescribeConfigsRequest()
	resource := kmsg.NewDescribeConfigsRequestResource()
	resource.ResourceType, resource.ResourceName = kmsg.ConfigResourceTypeTopic, command.Topic
	req.Resources = append(req.Resources, resource)
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return nil, err
	}
	if len(resp.Resources) != 1 {
		return nil, fmt.Errorf("%d resources in the answer", len(resp.Resources))
	}
	described := resp.Resources[0]
	if err := kerr.ErrorForCode(described.ErrorCode); err != nil {
		return nil, err
	}
	out := []any{}
	for _, c := range described.Configs {
		out = append(out, map[string]any{"name": c.Name, "value": c.Value, "source": c.Source.String(),
			"read_only": c.ReadOnly, "sensitive": c.IsSensitive})
	}
	return out, nil
}

// alterConfigs: IncrementalAlterConfigs, or with incremental false the legacy
// AlterConfigs, which replaces every override of the topic with set.
func (d *driver) alterConfigs(raw json.RawMessage) (any, error) {
	command, err := decode[struct {
		Topic       string            `json:"topic"`
		Set         map[string]string `json:"set"`
		Delete      []string          `json:"delete"`
		Incremental *bool             `json:"incremental"`
	}](raw)
	if err != nil {
		return nil, err
	}
	var alters []kadm.AlterConfig
	for name, value := range command.Set {
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: name, Value: kadm.StringPtr(value)})
	}
	for _, name := range command.Delete {
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: name})
	}
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		alter := admin.AlterTopicConfigs
		if command.Incremental != nil && !*command.Incremental {
			alter = admin.AlterTopicConfigsState
		}
		answer, err := alter(ctx, alters, command.Topic)
		if err != nil {
			return nil, err
		}
		for _, r := range answer {
			if r.Err != nil {
				return nil, r.Err
			}
		}
		return nil, nil
	})
}

func (d *driver) describeCluster(json.RawMessage) (any, error) {
	return d.withAdmin(func(ctx context.Context, admin *kadm.Client) (any, error) {
		metadata, err := admin.BrokerMetadata(ctx)
		if err != nil {
			return nil, err
		}
		nodes := []any{}
		for _, b := range metadata.Brokers {
			nodes = append(nodes, map[string]any{"id": b.NodeID, "host": b.Host, "port": b.Port})
		}
		return map[string]any{"cluster_id": metadata.Cluster, "controller": metadata.Controller, "nodes": nodes}, nil
	})
}
