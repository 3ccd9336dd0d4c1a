package mqtt

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

type (
	prometheusMetric = prometheus.Metric
	dtoMetric        = dto.Metric
)
