// saramacheck drives strom with sarama (Debian's golang-github-shopify-sarama-dev,
// 1.22.1), the Go client many tools embed. tests/test_go_client.py builds and
// runs it; every subcommand prints one JSON document on stdout and exits 0,
// or prints the error on stderr and exits 1.
//
//	saramacheck produce  -brokers B -topic T -version V -codec C -count N -prefix P
//	saramacheck group    -brokers B -topic T -version V -group G -expect N
//	saramacheck partition-consume -brokers B -topic T -version V -group G -partitions N
//	saramacheck offsets  -brokers B -topic T -version V -group G -partitions N
//
// -version "default" keeps sarama's default (V0_8_2_0): Produce v0, Fetch v0,
// ListOffsets v0, OffsetCommit v1, OffsetFetch v1 — the old versions Kafka 3.5
// still serves.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

type record struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "saramacheck: "+format+"\n", args...)
	os.Exit(1)
}

func emit(v interface{}) {
	if err := json.NewEncoder(os.Stdout).Encode(v); err != nil {
		fail("encoding output: %v", err)
	}
}

func config(version string) *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "saramacheck"
	if version != "default" {
		v, err := sarama.ParseKafkaVersion(version)
		if err != nil {
			fail("version %q: %v", version, err)
		}
		c.Version = v
	}
	c.Metadata.Retry.Max = 5
	c.Metadata.Retry.Backoff = 200 * time.Millisecond
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 10 * time.Second
	c.Net.WriteTimeout = 5 * time.Second
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.CommitInterval = 200 * time.Millisecond
	c.Consumer.Offsets.Retry.Max = 3
	return c
}

var codecs = map[string]sarama.CompressionCodec{
	"none":   sarama.CompressionNone,
	"gzip":   sarama.CompressionGZIP,
	"snappy": sarama.CompressionSnappy,
	"lz4":    sarama.CompressionLZ4,
	"zstd":   sarama.CompressionZSTD,
}

// produce sends count messages in one SendMessages call (so they share
// batches, compressed with the codec), alternating over the partitions.
func produce(brokers []string, topic, version, codec string, count, partitions int, prefix string) {
	c := config(version)
	cc, ok := codecs[codec]
	if !ok {
		fail("unknown codec %q", codec)
	}
	c.Producer.Compression = cc
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Producer.Retry.Max = 3
	c.Producer.Flush.Messages = count
	c.Producer.Flush.Frequency = 50 * time.Millisecond
	p, err := sarama.NewSyncProducer(brokers, c)
	if err != nil {
		fail("producer: %v", err)
	}
	defer p.Close()
	msgs := make([]*sarama.ProducerMessage, count)
	for i := range msgs {
		msgs[i] = &sarama.ProducerMessage{
			Topic:     topic,
			Partition: int32(i % partitions),
			Key:       sarama.StringEncoder(fmt.Sprintf("%s-k%d", prefix, i)),
			Value:     sarama.StringEncoder(fmt.Sprintf("%s-v%d-%s", prefix, i, strings.Repeat("x", 64))),
		}
	}
	if err := p.SendMessages(msgs); err != nil {
		fail("send (%s): %v", codec, err)
	}
	out := make([]record, count)
	for i, m := range msgs {
		k, _ := m.Key.Encode()
		v, _ := m.Value.Encode()
		out[i] = record{m.Partition, m.Offset, string(k), string(v)}
	}
	emit(map[string]interface{}{"codec": codec, "records": out})
}

type handler struct {
	mu      sync.Mutex
	got     []record
	expect  int
	done    chan struct{}
	once    sync.Once
	claimed map[int32]bool
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ps := range s.Claims() {
		for _, p := range ps {
			h.claimed[p] = true
		}
	}
	return nil
}

func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.mu.Lock()
		h.got = append(h.got, record{m.Partition, m.Offset, string(m.Key), string(m.Value)})
		n := len(h.got)
		h.mu.Unlock()
		s.MarkMessage(m, "saramacheck")
		if n >= h.expect {
			h.once.Do(func() { close(h.done) })
		}
	}
	return nil
}

// group consumes expect messages in a consumer group (JoinGroup, SyncGroup,
// Heartbeat, OffsetFetch, Fetch), marks them and closes the group, which
// commits the marked offsets (OffsetCommit v1, sarama's default without a
// retention) and leaves.
func group(brokers []string, topic, version, groupID string, expect int, timeout time.Duration) {
	c := config(version)
	c.Consumer.Group.Session.Timeout = 10 * time.Second
	c.Consumer.Group.Heartbeat.Interval = 1 * time.Second
	g, err := sarama.NewConsumerGroup(brokers, groupID, c)
	if err != nil {
		fail("consumer group: %v", err)
	}
	h := &handler{expect: expect, done: make(chan struct{}), claimed: map[int32]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	var errs []string
	var errMu sync.Mutex
	go func() {
		for e := range g.Errors() {
			errMu.Lock()
			errs = append(errs, e.Error())
			errMu.Unlock()
		}
	}()
	consumed := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := g.Consume(ctx, []string{topic}, h); err != nil {
				consumed <- err
				return
			}
		}
		consumed <- nil
	}()
	timedOut := false
	select {
	case <-h.done:
	case <-time.After(timeout):
		timedOut = true
	case err := <-consumed:
		fail("consume: %v", err)
	}
	cancel()
	<-consumed
	if err := g.Close(); err != nil {
		fail("close: %v", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	errMu.Lock()
	defer errMu.Unlock()
	claimed := []int32{}
	for p := range h.claimed {
		claimed = append(claimed, p)
	}
	sort.Slice(claimed, func(i, j int) bool { return claimed[i] < claimed[j] })
	emit(map[string]interface{}{"records": h.got, "claimed": claimed, "timed_out": timedOut, "errors": errs})
}

// partitionConsume reads every partition from its oldest offset up to the
// high water mark with the partition consumer (Fetch), and commits the next
// offsets with an offset manager outside any group (OffsetCommit v1 with
// generation -1).
func partitionConsume(brokers []string, topic, version, groupID string, partitions int) {
	c := config(version)
	client, err := sarama.NewClient(brokers, c)
	if err != nil {
		fail("client: %v", err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		fail("consumer: %v", err)
	}
	om, err := sarama.NewOffsetManagerFromClient(groupID, client)
	if err != nil {
		fail("offset manager: %v", err)
	}
	var out []record
	for p := int32(0); p < int32(partitions); p++ {
		high, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			fail("high water mark of %d: %v", p, err)
		}
		pom, err := om.ManagePartition(topic, p)
		if err != nil {
			fail("manage partition %d: %v", p, err)
		}
		if high > 0 {
			pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
			if err != nil {
				fail("consume partition %d: %v", p, err)
			}
			deadline := time.After(20 * time.Second)
			for next := int64(0); next < high; {
				select {
				case m := <-pc.Messages():
					out = append(out, record{m.Partition, m.Offset, string(m.Key), string(m.Value)})
					next = m.Offset + 1
				case e := <-pc.Errors():
					fail("partition %d: %v", p, e)
				case <-deadline:
					fail("partition %d: timed out at offset %d of %d", p, next, high)
				}
			}
			pc.Close()
		}
		pom.MarkOffset(high, "saramacheck")
		go func(pom sarama.PartitionOffsetManager) {
			for e := range pom.Errors() {
				fmt.Fprintf(os.Stderr, "saramacheck: commit: %v\n", e)
			}
		}(pom)
		pom.AsyncClose()
	}
	om.Close() // flushes the marked offsets
	emit(map[string]interface{}{"records": out})
}

// offsets lists the oldest and newest offsets of every partition
// (ListOffsets: v0 with the default version, v1 from 0.10.1) and the group's
// committed offsets (OffsetFetch v1).
func offsets(brokers []string, topic, version, groupID string, partitions int) {
	c := config(version)
	client, err := sarama.NewClient(brokers, c)
	if err != nil {
		fail("client: %v", err)
	}
	defer client.Close()
	type parts struct {
		Oldest    []int64 `json:"oldest"`
		Newest    []int64 `json:"newest"`
		Committed []int64 `json:"committed"`
	}
	var out parts
	coord, err := client.Coordinator(groupID)
	if err != nil {
		fail("coordinator: %v", err)
	}
	req := &sarama.OffsetFetchRequest{Version: 1, ConsumerGroup: groupID}
	for p := int32(0); p < int32(partitions); p++ {
		oldest, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			fail("oldest offset of %d: %v", p, err)
		}
		newest, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			fail("newest offset of %d: %v", p, err)
		}
		out.Oldest = append(out.Oldest, oldest)
		out.Newest = append(out.Newest, newest)
		req.AddPartition(topic, p)
	}
	resp, err := coord.FetchOffset(req)
	if err != nil {
		fail("offset fetch: %v", err)
	}
	for p := int32(0); p < int32(partitions); p++ {
		b := resp.GetBlock(topic, p)
		if b == nil {
			fail("offset fetch: no block for partition %d", p)
		}
		if b.Err != sarama.ErrNoError {
			fail("offset fetch of %d: %v", p, b.Err)
		}
		out.Committed = append(out.Committed, b.Offset)
	}
	emit(out)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: saramacheck produce|group|partition-consume|offsets [flags]")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	brokers := fs.String("brokers", "127.0.0.1:9092", "bootstrap brokers, comma-separated")
	topic := fs.String("topic", "", "topic")
	version := fs.String("version", "default", "Kafka version sarama speaks (\"default\" = sarama's own)")
	codec := fs.String("codec", "none", "none, gzip, snappy, lz4 or zstd")
	count := fs.Int("count", 10, "messages to produce")
	partitions := fs.Int("partitions", 1, "partitions of the topic")
	prefix := fs.String("prefix", "m", "message prefix")
	groupID := fs.String("group", "saramacheck", "consumer group")
	expect := fs.Int("expect", 1, "messages to consume in the group")
	timeout := fs.Duration("timeout", 30*time.Second, "give up consuming after this long")
	if err := fs.Parse(os.Args[2:]); err != nil {
		fail("%v", err)
	}
	bs := strings.Split(*brokers, ",")
	if os.Getenv("SARAMA_DEBUG") != "" {
		sarama.Logger = log.New(os.Stderr, "[sarama] ", log.LstdFlags)
	}
	switch os.Args[1] {
	case "produce":
		produce(bs, *topic, *version, *codec, *count, *partitions, *prefix)
	case "group":
		group(bs, *topic, *version, *groupID, *expect, *timeout)
	case "partition-consume":
		partitionConsume(bs, *topic, *version, *groupID, *partitions)
	case "offsets":
		offsets(bs, *topic, *version, *groupID, *partitions)
	default:
		fail("unknown subcommand %q", os.Args[1])
	}
}
