package main

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/raftlab/raftlab/core"
	"github.com/raftlab/raftlab/transport/ws"
)

// metrics are the member's Prometheus metrics. Most are read off the event
// stream (observe), so what /metrics counts is what the UI shows.
type metrics struct {
	reg             *prometheus.Registry
	proposals       prometheus.Counter
	proposalsFailed prometheus.Counter
	commit          prometheus.Gauge
	applied         prometheus.Gauge
	appliedEntries  prometheus.Counter
	term            prometheus.Gauge
	isLeader        prometheus.Gauge
	leaderChanges   prometheus.Counter
	readies         prometheus.Counter
	fsyncs          prometheus.Counter
	entriesPerFsync prometheus.Histogram
	snapshots       *prometheus.CounterVec
	msgsSent        *prometheus.CounterVec
	msgsReceived    *prometheus.CounterVec
	msgsDropped     *prometheus.CounterVec
	eventStreams    prometheus.Gauge

	lead uint64
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: "raftlab", Name: name, Help: help})
		f(c)
		return c
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "raftlab", Name: name, Help: help})
		f(g)
		return g
	}
	vec := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "raftlab", Name: name, Help: help}, labels)
		f(c)
		return c
	}
	m.proposals = counter("proposals_total", "Client writes proposed through this member.")
	m.proposalsFailed = counter("proposals_failed_total", "Client writes that failed or timed out.")
	m.commit = gauge("commit_index", "The commit index this member knows.")
	m.applied = gauge("applied_index", "The last index applied to the state machine.")
	m.appliedEntries = counter("applied_entries_total", "Entries applied to the state machine.")
	m.term = gauge("term", "The member's current term.")
	m.isLeader = gauge("is_leader", "1 while this member leads.")
	m.leaderChanges = counter("leader_changes_total", "Times the known leader changed.")
	m.readies = counter("readies_total", "Ready structs handled.")
	m.fsyncs = counter("fsyncs_total", "Synced writes (one per Ready that must sync).")
	m.entriesPerFsync = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "raftlab", Name: "entries_per_fsync",
		Help: "Log entries persisted per synced write: the batching factor.", Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512}})
	f(m.entriesPerFsync)
	m.snapshots = vec("snapshots_total", "Snapshots by phase (created, sent, received, applied).", "phase")
	m.msgsSent = vec("messages_sent_total", "Raft messages handed to the transport, by type.", "type")
	m.msgsReceived = vec("messages_received_total", "Raft messages received from peers, by type.", "type")
	m.msgsDropped = vec("messages_dropped_total", "Raft messages dropped, by reason.", "reason")
	m.eventStreams = gauge("event_streams", "Open /events streams.")
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe updates the metrics from one event.
func (m *metrics) observe(e *core.Event) {
	switch e.Kind {
	case core.KindReady:
		m.readies.Inc()
		if e.Ready.Synced {
			m.fsyncs.Inc()
			n := 0
			if e.Ready.EntriesTo >= e.Ready.EntriesFrom && e.Ready.EntriesTo > 0 {
				n = int(e.Ready.EntriesTo - e.Ready.EntriesFrom + 1)
			}
			m.entriesPerFsync.Observe(float64(n))
		}
	case core.KindCommit:
		m.commit.Set(float64(e.Commit.To))
	case core.KindApply:
		m.applied.Set(float64(e.Apply.To))
		m.appliedEntries.Add(float64(e.Apply.To - e.Apply.From + 1))
	case core.KindRole:
		m.term.Set(float64(e.Role.Term))
		if e.Role.Role == "leader" {
			m.isLeader.Set(1)
		} else {
			m.isLeader.Set(0)
		}
		if e.Role.Lead != m.lead {
			if e.Role.Lead != 0 {
				m.leaderChanges.Inc()
			}
			m.lead = e.Role.Lead
		}
	case core.KindSnapshot:
		m.snapshots.WithLabelValues(e.Snapshot.Phase).Inc()
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// transportCollector exposes the transport's own counters (ws.Stats): what
// it refused from peers and why, failed handshakes, outbound drops,
// connections. A spoofed From or a wrong token shows up here.
type transportCollector struct{ tr *ws.Transport }

var (
	trRefused = prometheus.NewDesc("raftlab_transport_frames_refused_total",
		"Inbound peer frames refused, by reason; each also closed its connection.", []string{"reason"}, nil)
	trDropped = prometheus.NewDesc("raftlab_transport_dropped_total",
		"Outbound raft messages that never reached a socket, by reason.", []string{"reason"}, nil)
	trAuthFailures = prometheus.NewDesc("raftlab_transport_auth_failures_total",
		"Peer handshakes that failed, either side: wrong token, wrong cluster, refused id, malformed or timed out.", nil, nil)
	trConnections = prometheus.NewDesc("raftlab_transport_connections_total",
		"Authenticated peer connections established.", nil, nil)
	trReconnects = prometheus.NewDesc("raftlab_transport_reconnects_total",
		"Authenticated connections to a peer that had one before.", nil, nil)
	trOpen = prometheus.NewDesc("raftlab_transport_open_connections",
		"Authenticated peer connections open now.", nil, nil)
	trBytes = prometheus.NewDesc("raftlab_transport_bytes_total",
		"Bytes of raft messages sent and received.", []string{"direction"}, nil)
)

func (c transportCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{trRefused, trDropped, trAuthFailures, trConnections, trReconnects, trOpen, trBytes} {
		ch <- d
	}
}

func (c transportCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.tr.Stats()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	d := st.Dropped
	counter(trRefused, d.SpoofedFrom, "spoofed from")
	counter(trRefused, d.WrongRecipient, "wrong recipient")
	counter(trRefused, d.WrongCluster, "wrong cluster")
	counter(trRefused, d.BadFrame, "bad frame")
	counter(trRefused, d.OversizedFrame, "oversized")
	counter(trDropped, d.UnknownPeer, string(ws.DropUnknownPeer))
	counter(trDropped, d.NoConnection, string(ws.DropNoConnection))
	counter(trDropped, d.QueueFull, string(ws.DropQueueFull))
	counter(trDropped, d.Oversized, string(ws.DropOversized))
	counter(trDropped, d.Invalid, string(ws.DropInvalid))
	counter(trDropped, d.ConnectionLost, string(ws.DropConnectionLost))
	counter(trAuthFailures, st.AuthFailures)
	counter(trConnections, st.Connections)
	counter(trReconnects, st.Reconnects)
	counter(trBytes, st.SentBytes, "sent")
	counter(trBytes, st.ReceivedBytes, "received")
	ch <- prometheus.MustNewConstMetric(trOpen, prometheus.GaugeValue, float64(st.Open))
}
