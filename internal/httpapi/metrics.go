package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the API's Prometheus collectors.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	evaluations *prometheus.CounterVec
	errors      *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "warden_http_requests_total",
			Help: "HTTP requests served, by route pattern and status.",
		}, []string{"route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "warden_http_request_duration_seconds",
			Help:    "HTTP request latency, by route pattern and status.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "status"}),
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "warden_evaluations_total",
			Help: "Actions evaluated through the HTTP API, by the decision returned.",
		}, []string{"decision"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "warden_http_errors_total",
			Help: "Error responses, by error code.",
		}, []string{"code"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.evaluations, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("httpapi: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(route string, status int, d time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(route, code).Inc()
	m.duration.WithLabelValues(route, code).Observe(d.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
