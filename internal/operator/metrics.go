package operator

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	descConsoleRefused = prometheus.NewDesc("hotline_console_refused_total",
		"Console requests refused before any login, by kind (login, cross-origin, host): each one, whether it has an audit record of its own or is counted in one.",
		[]string{"kind"}, nil)
	descRefusalRecords = prometheus.NewDesc("hotline_console_refusal_records_total",
		fmt.Sprintf("Audit records written for the console's refusals before any login (at most %d a minute).", MaxRefusalRows), nil, nil)
	descPasswordChecks = prometheus.NewDesc("hotline_console_password_checks_total",
		"Passwords hashed to check a console login (against a dummy hash for a name nobody has).", nil, nil)
)

// Collector returns the registry's counters for the station's /metrics.
func (r *Registry) Collector() prometheus.Collector { return collector{r} }

type collector struct{ r *Registry }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descConsoleRefused
	ch <- descRefusalRecords
	ch <- descPasswordChecks
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	counts := c.r.RefusalCounts()
	for _, kind := range []string{RefuseLogin, RefuseCrossOrigin, RefuseHost} {
		ch <- prometheus.MustNewConstMetric(descConsoleRefused, prometheus.CounterValue, float64(counts.Refused[kind]), kind)
	}
	ch <- prometheus.MustNewConstMetric(descRefusalRecords, prometheus.CounterValue, float64(counts.Records))
	ch <- prometheus.MustNewConstMetric(descPasswordChecks, prometheus.CounterValue, float64(c.r.PasswordChecks()))
}
