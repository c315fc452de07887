package station

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hotline/internal/desk"
	"hotline/internal/envelope"
	"hotline/internal/media"
	"hotline/internal/ops"
	"hotline/internal/protocol"
	"hotline/internal/record"
)

// metrics are the station's Prometheus metrics, in a registry of its own
// (never the global one, so that two stations in one process, as in
// tests, do not mix).
//
// Two sources, neither inside the core: the writer observes every batch
// it made durable (entries, receipts, acknowledgements, ladder steps,
// link tests, alerts: each record once, when it is on disk, so a counter
// never counts what a crash could take back), and a collector reads the
// core on the loop when scraped (refusals, duplicates, failovers, paths,
// channel states), as Status does. Nothing is done per event that costs
// more than the records of the event.
type metrics struct {
	reg *prometheus.Registry

	entries      *prometheus.CounterVec   // log, kind
	messages     *prometheus.CounterVec   // state, precedence
	ackedHere    prometheus.Counter       //
	toReceipt    *prometheus.HistogramVec // precedence
	toAck        *prometheus.HistogramVec // precedence
	steps        *prometheus.CounterVec   // step, log
	linkTests    *prometheus.CounterVec   // result
	checksAnswer prometheus.Counter
	alerts       *prometheus.CounterVec // level
	apply        prometheus.Histogram
	applyFailed  prometheus.Counter
	applyLast    prometheus.Gauge
	relayOpened  *prometheus.CounterVec // key

	mu        sync.Mutex // the writer, and the loop at stop, observe
	self      string
	peerOf    map[string]string // channel → peer
	delivered map[string]uint64 // channel → receipted size of this station's log
	pending   map[entryRef]sent // this station's entries awaiting receipt or acknowledgement
	lastErr   error             // of the latest Apply
}

type entryRef struct {
	channel string
	index   uint64
}

// sent is what the metrics remember of an entry of this station that
// needs acknowledgement, until it is acknowledged.
type sent struct {
	prec      envelope.Precedence
	kind      envelope.Kind
	at        time.Time
	delivered bool
}

// maxPending bounds the entries remembered for the latency histograms;
// past it, new entries are counted but not timed.
const maxPending = 1 << 16

func newMetrics(s *Station, chs []protocol.ChannelInfo) *metrics {
	m := &metrics{
		reg:  prometheus.NewRegistry(),
		self: s.Cfg.Name, peerOf: map[string]string{}, delivered: map[string]uint64{}, pending: map[entryRef]sent{},
		entries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_entries_total",
			Help: "Entries made durable, by log (own: written by this station; peer: received) and kind."}, []string{"log", "kind"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_messages_total",
			Help: "Entries that need a person's acknowledgement (text, check, escalation), by state reached (written, delivered, acknowledged by the peer; received from the peer) and precedence."},
			[]string{"state", "precedence"}),
		ackedHere: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_acknowledged_here_total",
			Help: "Acknowledgements given by this station's operators to the peer's entries."}),
		toReceipt: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotline_time_to_receipt_seconds",
			Help:    "From writing an entry that needs acknowledgement to the peer's receipt covering it, on this station's clock.",
			Buckets: prometheus.ExponentialBucketsRange(0.005, 3600, 16)}, []string{"precedence"}),
		toAck: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hotline_time_to_ack_seconds",
			Help:    "From writing an entry to the peer's acknowledgement of it, on this station's clock.",
			Buckets: prometheus.ExponentialBucketsRange(1, 86400, 16)}, []string{"precedence"}),
		steps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_ladder_steps_total",
			Help: "Deadline ladder steps taken (undelivered and overdue are deadline misses), by step and by whose entry was late."},
			[]string{"step", "log"}),
		linkTests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_link_tests_total",
			Help: "Machine-answered link tests, sent and answered."}, []string{"result"}),
		checksAnswer: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_checks_answered_total",
			Help: "This station's operator checks acknowledged by a person at the peer."}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_alerts_total",
			Help: "Alerts recorded, by level."}, []string{"level"}),
		apply: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "hotline_store_apply_seconds",
			Help:    "Time to write one group of batches durably (one transaction, commit and fsync included).",
			Buckets: prometheus.ExponentialBucketsRange(0.0002, 10, 16)}),
		applyFailed: prometheus.NewCounter(prometheus.CounterOpts{Name: "hotline_store_apply_failures_total",
			Help: "Store writes that failed (the station stops on the first)."}),
		applyLast: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hotline_store_last_apply_success_timestamp_seconds",
			Help: "When the store last made a group of batches durable."}),
		relayOpened: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_relay_deposits_opened_total",
			Help: "Relay mail opened, by the key it was sealed to: current, next (a key change under way) or retired."}, []string{"key"}),
	}
	for _, c := range chs {
		m.peerOf[c.ID] = c.Peer
		m.delivered[c.ID] = c.Delivered
	}
	m.reg.MustRegister(m.entries, m.messages, m.ackedHere, m.toReceipt, m.toAck, m.steps, m.linkTests,
		m.checksAnswer, m.alerts, m.apply, m.applyFailed, m.applyLast, m.relayOpened,
		&coreCollector{s: s},
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_call_media_refused_total",
			Help: "Peer stations whose call media was refused: their DTLS certificate was not the one their signed call entry names (since the media started)."},
			func() float64 { return s.mediaCount((*media.Engine).Refusals) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_call_media_dropped_total",
			Help: "RTP packets of calls dropped over the bounds: the rate per leg, the largest payload, not RTP (since the media started)."},
			func() float64 { return s.mediaCount((*media.Engine).Drops) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_call_media_offers_refused_total",
			Help: "Browsers' WebRTC offers refused: not SDP, no Opus audio, too long, or video the channel's charter forbids (since the media started)."},
			func() float64 { return s.mediaCount((*media.Engine).OffersRefused) }),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// applied observes one group the writer tried to make durable. It runs on
// the writer goroutine (or the loop, at stop), after Apply returned.
func (m *metrics) applied(s *Station, b *record.Batch, took time.Duration, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastErr = err
	if err != nil {
		m.applyFailed.Inc()
		return
	}
	now := time.Now()
	m.apply.Observe(took.Seconds())
	m.applyLast.Set(float64(now.UnixNano()) / 1e9)
	for _, c := range b.Channels {
		m.peerOf[c.ID] = c.Peer
	}
	for i := range b.Entries {
		e := &b.Entries[i]
		own := e.Author == m.self
		log, state := "peer", "received"
		if own {
			log, state = "own", "written"
		}
		m.entries.WithLabelValues(log, e.Kind.String()).Inc()
		if e.Kind.NeedsAck() {
			m.messages.WithLabelValues(state, e.Precedence.String()).Inc()
			if own && len(m.pending) < maxPending {
				m.pending[entryRef{e.Channel, e.Index}] = sent{prec: e.Precedence, kind: e.Kind, at: e.StoredAt}
			}
		}
		s.Log.Debug("entry stored", "channel", e.Channel, "peer", m.peerOf[e.Channel], "author", e.Author,
			"index", e.Index, "kind", e.Kind.String(), "precedence", e.Precedence.String())
	}
	for _, r := range b.Receipts {
		if r.Author != m.self {
			continue // this station's receipt of the peer's log
		}
		prev := m.delivered[r.Channel]
		if r.Size <= prev {
			continue
		}
		m.delivered[r.Channel] = r.Size
		for i := prev + 1; i <= r.Size; i++ { // each entry is delivered once: O(entries), not O(channels)
			ref := entryRef{r.Channel, i}
			p, ok := m.pending[ref]
			if !ok || p.delivered {
				continue
			}
			p.delivered = true
			m.pending[ref] = p
			m.messages.WithLabelValues("delivered", p.prec.String()).Inc()
			m.toReceipt.WithLabelValues(p.prec.String()).Observe(now.Sub(p.at).Seconds())
		}
		s.Log.Debug("receipt", "channel", r.Channel, "peer", m.peerOf[r.Channel], "index", r.Size)
	}
	for _, a := range b.Acks {
		if a.Author != m.self {
			m.ackedHere.Inc()
			s.Log.Info("acknowledged here", "channel", a.Channel, "peer", a.Author, "index", a.Index)
			continue
		}
		ref := entryRef{a.Channel, a.Index}
		p, ok := m.pending[ref]
		if !ok {
			continue // written before this process started, or past maxPending
		}
		delete(m.pending, ref)
		m.messages.WithLabelValues("acknowledged", p.prec.String()).Inc()
		m.toAck.WithLabelValues(p.prec.String()).Observe(now.Sub(p.at).Seconds())
		if p.kind == envelope.Check {
			m.checksAnswer.Inc()
		}
		s.Log.Info("acknowledged by the peer", "channel", a.Channel, "peer", m.peerOf[a.Channel], "index", a.Index,
			"precedence", p.prec.String())
	}
	for _, e := range b.Escalations {
		log := "peer"
		if e.Author == m.self {
			log = "own"
		}
		step := ops.StepNames[e.Step]
		m.steps.WithLabelValues(step, log).Inc()
		s.Log.Warn("deadline ladder step", "channel", e.Channel, "peer", m.peerOf[e.Channel], "author", e.Author,
			"index", e.Index, "step", step)
	}
	for _, p := range b.Probes {
		m.linkTests.WithLabelValues("sent").Add(float64(p.Sent))
		m.linkTests.WithLabelValues("answered").Add(float64(p.Answered))
	}
	for _, a := range b.Alerts {
		m.alerts.WithLabelValues(a.Level).Inc()
		// The text stays in the store (hotline alerts): it may quote a
		// suspension's reason, which is an operator's words.
		s.Log.Warn("alert", "level", a.Level, "channel", a.Channel, "peer", a.Peer)
	}
}

// lastApplyErr is the error of the latest store write, nil if it succeeded.
func (m *metrics) lastApplyErr() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr
}

// MetricsHandler serves the station's metrics in the Prometheus
// exposition format.
func (s *Station) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
}

// RegisterMetrics adds collectors of the process around the station (the
// console's) to the station's /metrics.
func (s *Station) RegisterMetrics(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := s.metrics.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// scrapeTimeout bounds how long a scrape or a health check waits for the
// loop.
const scrapeTimeout = 2 * time.Second

// coreCollector reads the core on the loop at scrape time. It is
// unchecked (Describe sends nothing): its series follow the peers and
// paths there are.
type coreCollector struct{ s *Station }

var (
	descLoop       = prometheus.NewDesc("hotline_loop_responsive", "1 if the station's loop answered the scrape within 2s.", nil, nil)
	descRefused    = prometheus.NewDesc("hotline_refused_total", "Inputs the core refused, by reason.", []string{"reason"}, nil)
	descDuplicates = prometheus.NewDesc("hotline_duplicates_total", "Entries received again and dropped.", nil, nil)
	descFailovers  = prometheus.NewDesc("hotline_failovers_total", "Changes of a peer's active path from one path to another.", nil, nil)
	descAhead      = prometheus.NewDesc("hotline_ahead_total", "Entries frames sent ahead of their write: sent, taken (the peer's, on their durable frame), missed (a durable frame with nothing held), conflicting (the peer's, reaching into what is held: dropped), unleased (not sent: the lease not confirmed recently enough).", []string{"what"}, nil)
	descChannels   = prometheus.NewDesc("hotline_channels", "Channels by the state operators see.", []string{"state"}, nil)
	descLogs       = prometheus.NewDesc("hotline_log_entries", "Entries over all channels: written, sent and delivered (receipted) of this station's logs, received of the peers'.", []string{"state"}, nil)
	descAwaiting   = prometheus.NewDesc("hotline_awaiting_ack", "Entries awaiting a person's acknowledgement: this station's at the peer, the peer's here.", []string{"side"}, nil)
	descPathUp     = prometheus.NewDesc("hotline_path_up", "1 if the path to the peer is up.", []string{"peer", "path"}, nil)
	descPathActive = prometheus.NewDesc("hotline_path_active", "1 if this station's entries to the peer go on the path.", []string{"peer", "path"}, nil)
	descPathRTT    = prometheus.NewDesc("hotline_path_rtt_seconds", "Round trip of the path's last answered probe.", []string{"peer", "path"}, nil)
	descPathProbes = prometheus.NewDesc("hotline_path_probes", "Probes sent on the path since it connected.", []string{"peer", "path"}, nil)
	descPathLost   = prometheus.NewDesc("hotline_path_probes_lost", "Probes unanswered on the path since it connected.", []string{"peer", "path"}, nil)
)

func (c *coreCollector) Describe(chan<- *prometheus.Desc) {}

func (c *coreCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var (
		chs        []protocol.ChannelInfo
		stats      protocol.Stats
		refused    = map[string]int{}
		responsive float64
	)
	if err := c.s.inLoop(ctx, func() {
		chs = c.s.core.Channels()
		stats = c.s.core.Stats
		for k, n := range c.s.core.Stats.Refused {
			refused[k] = n
		}
	}); err == nil {
		responsive = 1
	}
	ch <- prometheus.MustNewConstMetric(descLoop, prometheus.GaugeValue, responsive)
	if responsive == 0 {
		return
	}
	for k, n := range refused {
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(n), k)
	}
	ch <- prometheus.MustNewConstMetric(descDuplicates, prometheus.CounterValue, float64(stats.Duplicates))
	ch <- prometheus.MustNewConstMetric(descFailovers, prometheus.CounterValue, float64(stats.Failovers))
	for what, n := range map[string]int{"sent": stats.SentAhead, "taken": stats.TakenAhead, "missed": stats.MissedAhead,
		"conflicting": stats.ConflictAhead, "unleased": stats.LeaseAhead} {
		ch <- prometheus.MustNewConstMetric(descAhead, prometheus.CounterValue, float64(n), what)
	}
	states := map[string]int{}
	var written, sentN, delivered, received uint64
	var awaitPeer, awaitHere int
	seen := map[string]bool{}
	refusing := c.s.RelaysRefusing()
	for _, i := range chs {
		state := i.State
		if state == protocol.StateActive && slices.ContainsFunc(refusing, func(r ops.RelayRefusalView) bool { return desk.RelayNeeded(r, i.Peer) }) {
			state = protocol.StateDegraded // as hotline status shows it
		}
		states[state]++
		written += i.Written
		sentN += i.Sent
		delivered += i.Delivered
		received += i.Received
		awaitPeer += i.AwaitingPeer
		awaitHere += i.AwaitingHere
		if seen[i.Peer] {
			continue // paths are the peer's, the same on each of its channels
		}
		seen[i.Peer] = true
		for _, p := range i.Paths {
			ch <- prometheus.MustNewConstMetric(descPathUp, prometheus.GaugeValue, bool01(p.Up), i.Peer, p.Name)
			ch <- prometheus.MustNewConstMetric(descPathActive, prometheus.GaugeValue, bool01(p.Active), i.Peer, p.Name)
			ch <- prometheus.MustNewConstMetric(descPathRTT, prometheus.GaugeValue, p.RTT.Seconds(), i.Peer, p.Name)
			ch <- prometheus.MustNewConstMetric(descPathProbes, prometheus.GaugeValue, float64(p.Probes), i.Peer, p.Name)
			ch <- prometheus.MustNewConstMetric(descPathLost, prometheus.GaugeValue, float64(p.Lost), i.Peer, p.Name)
		}
	}
	for st, n := range states {
		ch <- prometheus.MustNewConstMetric(descChannels, prometheus.GaugeValue, float64(n), st)
	}
	for st, n := range map[string]uint64{"written": written, "sent": sentN, "delivered": delivered, "received": received} {
		ch <- prometheus.MustNewConstMetric(descLogs, prometheus.GaugeValue, float64(n), st)
	}
	ch <- prometheus.MustNewConstMetric(descAwaiting, prometheus.GaugeValue, float64(awaitPeer), "peer")
	ch <- prometheus.MustNewConstMetric(descAwaiting, prometheus.GaugeValue, float64(awaitHere), "here")
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
