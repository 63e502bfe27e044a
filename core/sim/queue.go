package sim

import (
	"container/heap"

	pb "go.etcd.io/raft/v3/raftpb"
)

// itemKind is what a scheduled item does when its time comes.
type itemKind uint8

const (
	// itemTick ticks a member and schedules its next tick.
	itemTick itemKind = iota
	// itemDeliver hands an in-flight message to its recipient.
	itemDeliver
	// itemRelease sends the messages of a Ready whose synced write took
	// DiskMs.
	itemRelease
	// itemTimeout fails a client request that got no answer.
	itemTimeout
)

// item is one scheduled happening. Items run in (at, seq) order: seq is
// the order of scheduling, so equal times never depend on anything but the
// run itself.
type item struct {
	at   int64
	seq  uint64
	kind itemKind
	node uint64
	// gen is the incarnation of node when the item was scheduled; a crash
	// makes the items of the old incarnation void.
	gen uint64

	msg   *pb.Message // itemDeliver
	msgID uint64      // itemDeliver
	msgs  []*pb.Message
	reqID uint64 // itemTimeout
	// dropped marks a message a user dropped in flight.
	dropped bool
	// void marks an item replaced by another (a delayed message).
	void bool
}

// queue is a min-heap of items.
type queue []*item

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*item)) }
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return it
}

func (c *Cluster) schedule(it *item) {
	c.itemSeq++
	it.seq = c.itemSeq
	heap.Push(&c.queue, it)
}

func (c *Cluster) peek() *item {
	if len(c.queue) == 0 {
		return nil
	}
	return c.queue[0]
}

func (c *Cluster) pop() *item {
	return heap.Pop(&c.queue).(*item)
}
