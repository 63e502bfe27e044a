package sim

import (
	"testing"
	"time"
)

func TestQuickElection(t *testing.T) {
	c, err := New(Config{Nodes: 5, Seed: 1, Events: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RunUntil(5000); err != nil {
		t.Fatal(err)
	}
	t.Logf("leader %d events %d hash %s", c.Leader(), c.EventCount(), c.TraceHash())
	if c.Leader() == 0 {
		t.Fatal("no leader")
	}
	if err := c.Do(Action{Kind: ActPut, Key: "x", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	c.RunUntil(6000)
	t.Logf("acked %v stats %+v", c.Acked(), c.Checker().Stats)
	for _, e := range c.TakeEvents(0)[:40] {
		t.Logf("%d %d %s", e.Time, e.Node, e.Kind)
	}
}

func TestQuickChaos(t *testing.T) {
	start := time.Now()
	for seed := uint64(1); seed <= 20; seed++ {
		c, err := New(Config{Nodes: 5, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		err = Chaos{DurationMs: 200_000, WriteEveryMs: 200, ReadEveryMs: 500, FaultEveryMs: 2000}.Run(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: %+v", seed, c.Checker().Stats)
	}
	t.Logf("took %v", time.Since(start))
}
