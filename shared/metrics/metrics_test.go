package metrics

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestEMFLine checks the line against the Embedded Metric Format
// specification: _aws metadata naming the metric, its unit, the namespace
// and dimension set, with the dimension and the value at top level.
func TestEMFLine(t *testing.T) {
	var buf bytes.Buffer
	e := New(&buf, "shop-webhook")
	e.now = func() time.Time { return time.UnixMilli(1795838953955) }
	e.Count(OrdersEnqueued, 1)
	e.Emit(Metric{"ForwardLatency", Milliseconds, 1.5})

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	type emf struct {
		AWS struct {
			Timestamp         int64
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		} `json:"_aws"`
	}
	for i, want := range []struct {
		name, unit string
		value      float64
	}{{OrdersEnqueued, Count, 1}, {"ForwardLatency", Milliseconds, 1.5}} {
		var doc emf
		var flat map[string]any
		if err := json.Unmarshal(lines[i], &doc); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, lines[i])
		}
		json.Unmarshal(lines[i], &flat)
		cw := doc.AWS.CloudWatchMetrics
		if doc.AWS.Timestamp != 1795838953955 || len(cw) != 1 || cw[0].Namespace != Namespace ||
			len(cw[0].Dimensions) != 1 || cw[0].Dimensions[0][0] != DimensionName ||
			cw[0].Metrics[0].Name != want.name || cw[0].Metrics[0].Unit != want.unit {
			t.Errorf("line %d metadata: %s", i, lines[i])
		}
		if flat[DimensionName] != "shop-webhook" || flat[want.name] != want.value {
			t.Errorf("line %d values: %s", i, lines[i])
		}
	}
}

func TestEmitSeveralInOneLine(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "f").Emit(One(OrdersDropped), One(OrdersEnqueued))
	if bytes.Count(buf.Bytes(), []byte("\n")) != 1 {
		t.Fatalf("want one line: %s", buf.Bytes())
	}
	var flat map[string]any
	if err := json.Unmarshal(buf.Bytes(), &flat); err != nil {
		t.Fatal(err)
	}
	if flat[OrdersDropped] != 1.0 || flat[OrdersEnqueued] != 1.0 {
		t.Fatalf("values: %s", buf.Bytes())
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"Metrics":[{"Name":"OrdersDropped","Unit":"Count"},{"Name":"OrdersEnqueued","Unit":"Count"}]`)) {
		t.Fatalf("metadata: %s", buf.Bytes())
	}
}

func TestNilEmitterIsSilent(t *testing.T) {
	var e *Emitter
	e.Count(OrdersForwarded, 1) // handlers built without metrics must not panic
}
