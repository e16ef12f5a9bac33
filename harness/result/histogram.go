package result

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// HistogramEncoding is the encoding of Histogram.Data: an HdrHistogram V2
// compressed snapshot, base64 (standard alphabet, padded), as in HdrHistogram
// log files: it starts with "HISTF". It is what hdrhistogram-go's
// Histogram.Encode(V2CompressedEncodingCookieBase) returns and Decode reads;
// do not base64 it again.
const HistogramEncoding = "hdr-v2-base64"

// doubleEncoded starts a histogram encoded twice: base64 of "HISTFA".
const doubleEncoded = "SElTVEZB"

// HistogramUnit is the unit of the values in a Histogram: microseconds.
const HistogramUnit = "us"

// Histogram geometry: 1 µs to 1 h at 3 significant figures, so any percentile
// read from a histogram is within 0.1% of the recorded value. Values above the
// highest trackable value are recorded as that value (and counted as such).
const (
	histLowest  = 1                                   // 1 µs
	histHighest = int64(time.Hour / time.Microsecond) // 1 h in µs
	histDigits  = 3
)

// NewHDR returns an empty HdrHistogram of the documents' geometry: 1 µs to
// 1 h at 3 significant figures, values in microseconds. Histograms recorded
// into it encode as this package's Histogram (EncodeHistogram) and merge
// exactly with every document's.
func NewHDR() *hdr.Histogram { return hdr.New(histLowest, histHighest, histDigits) }

// Histogram is a latency distribution in microseconds, HdrHistogram V2
// compressed and base64 encoded, so that histograms from several shards
// merge exactly. Histograms made by Snapshot keep the decoded form, those
// made by Merge a sparse one (hdrhistogram-go's PackedHistogram), and those
// made by Decode the checked payload, decoded on first read;
// otherwise every read decodes Data. Reads are safe from several goroutines.
type Histogram struct {
	Encoding string `json:"encoding"` // HistogramEncoding
	Unit     string `json:"unit"`     // HistogramUnit
	Data     string `json:"data"`

	h *hdr.Histogram       // decoded Data, or nil
	p *hdr.PackedHistogram // decoded Data in sparse form, or nil
	v *checked             // Data checked, decoded on first read; or nil
}

// checked is a histogram that Decode checked, and that is decoded
// the first time it is read: a report reads few of a document's histograms.
type checked struct {
	once    sync.Once
	payload []byte // the checked V2 payload
	p       *hdr.PackedHistogram
}

func (c *checked) packed() *hdr.PackedHistogram {
	c.once.Do(func() { c.p = buildOwn(c.payload) })
	return c.p
}

// Quantiles are the count, largest value and values at some percentiles of
// a histogram, in microseconds.
type Quantiles struct {
	Count  int64
	Max    int64   // as hdrhistogram-go's Max: 0 for an empty histogram
	Values []int64 // as hdrhistogram-go's ValueAtPercentile, in the order asked
}

// Quantiles returns the count, the largest value and the values at
// percentiles ps, as the decoded histogram gives them (see Packed). A
// histogram that Decode checked is read as is, without decoding it:
// a report of many documents reads these and nothing else.
func (h Histogram) Quantiles(ps ...float64) (Quantiles, error) {
	if h.v != nil && h.p == nil {
		return payloadQuantiles(h.v.payload, ps), nil
	}
	p, err := h.Packed()
	if err != nil {
		return Quantiles{}, err
	}
	q := Quantiles{Count: p.TotalCount(), Values: make([]int64, len(ps))}
	if q.Count > 0 {
		q.Max = p.Max()
		for i, pc := range ps {
			q.Values[i] = p.ValueAtPercentile(pc)
		}
	}
	return q, nil
}

// Micros returns the value a histogram records for d: whole microseconds,
// within the geometry's range (0 for a negative d, 1 h for a longer one).
func Micros(d time.Duration) int64 {
	return min(max(int64(d/time.Microsecond), 0), histHighest)
}

// EncodeHistogram encodes h, a histogram of the documents' geometry
// (NewHDR), as a Histogram that keeps h to read from; a nil h is empty. h is
// shared: do not change it afterwards.
func EncodeHistogram(h *hdr.Histogram) (Histogram, error) {
	if h == nil {
		h = NewHDR()
	}
	b, ok := encodeOwn(h)
	if !ok {
		var err error
		if b, err = h.Encode(hdr.V2CompressedEncodingCookieBase); err != nil { // already base64: "HISTF..."
			return Histogram{}, fmt.Errorf("result: encode histogram: %w", err)
		}
	}
	return Histogram{Encoding: HistogramEncoding, Unit: HistogramUnit, Data: string(b), h: h}, nil
}

// Hist returns the decoded histogram (values in microseconds). An empty Data
// decodes to an empty histogram. The result is shared with h: do not modify it.
// Hist allocates the histogram's whole range; Packed is cheaper for reading
// counts and percentiles.
func (h Histogram) Hist() (*hdr.Histogram, error) {
	if h.h != nil {
		return h.h, nil
	}
	if h.p != nil || h.v != nil {
		p, _ := h.Packed() // decoded, or checked: no error
		d := hdr.New(p.LowestTrackableValue(), p.HighestTrackableValue(), int(p.SignificantFigures()))
		p.MergeInto(d)
		return d, nil
	}
	if h.Data == "" {
		return NewHDR(), nil
	}
	data, err := h.data()
	if err != nil {
		return nil, err
	}
	d, err := hdr.Decode(data)
	if err != nil {
		return nil, badData(err)
	}
	return d, nil
}

// Packed returns the decoded histogram in sparse form (values in
// microseconds): its size is that of the populated buckets, not of the
// histogram's range, so reading counts, percentiles and the maximum of many
// documents stays cheap. An empty Data decodes to an empty histogram. The
// result is shared with h: do not modify it.
func (h Histogram) Packed() (*hdr.PackedHistogram, error) {
	switch {
	case h.p != nil:
		return h.p, nil
	case h.v != nil:
		return h.v.packed(), nil
	case h.h != nil:
		p := hdr.NewPacked(h.h.LowestTrackableValue(), h.h.HighestTrackableValue(), int(h.h.SignificantFigures()))
		if dropped := p.MergeFrom(h.h); dropped > 0 {
			return nil, fmt.Errorf("result: histogram: %d values out of range", dropped)
		}
		return p, nil
	case h.Data == "":
		return hdr.NewPacked(histLowest, histHighest, histDigits), nil
	}
	data, err := h.data()
	if err != nil {
		return nil, err
	}
	if payload, ok := checkOwn(data); ok {
		return buildOwn(payload), nil
	}
	p, err := hdr.DecodePacked(data)
	if err != nil {
		return nil, badData(err)
	}
	// A dense histogram cannot hold a total past MaxInt64 (Hist rejects
	// such data); the sparse one saturates it.
	var total int64
	p.ForEachBucket(func(_, c int64) bool {
		if c > math.MaxInt64-total {
			err = badData(errors.New("bucket counts sum past MaxInt64"))
			return false
		}
		total += c
		return true
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// data checks the encoding and unit of a non-empty h and returns the bytes
// to decode.
func (h Histogram) data() ([]byte, error) {
	if h.Encoding != "" && h.Encoding != HistogramEncoding {
		return nil, fmt.Errorf("result: histogram encoding %q is not supported (want %q)", h.Encoding, HistogramEncoding)
	}
	if h.Unit != "" && h.Unit != HistogramUnit {
		return nil, fmt.Errorf("result: histogram unit %q is not supported (want %q)", h.Unit, HistogramUnit)
	}
	data := []byte(h.Data)
	if strings.HasPrefix(h.Data, doubleEncoded) {
		// base64 of base64: tolerated, since early writers produced it
		if raw, err := base64.StdEncoding.DecodeString(h.Data); err == nil {
			data = raw
		}
	}
	return data, nil
}

func badData(err error) error {
	return fmt.Errorf("result: histogram data is not an HdrHistogram V2 compressed snapshot in base64 (\"HISTF...\"): %w", err)
}

// check checks that Data decodes, keeping what it needs to decode it on
// first read.
func (h *Histogram) check() error {
	if h.h != nil || h.p != nil || h.v != nil {
		return nil
	}
	if h.Data != "" && h.Encoding == HistogramEncoding && h.Unit == HistogramUnit && !strings.HasPrefix(h.Data, doubleEncoded) {
		if payload, ok := checkOwn([]byte(h.Data)); ok {
			h.v = &checked{payload: payload}
			return nil
		}
	}
	p, err := h.Packed()
	if err != nil {
		return err
	}
	h.p = p
	return nil
}

// reader is what Count, Percentile and the other reads need of a decoded
// histogram, dense or sparse.
type reader interface {
	TotalCount() int64
	ValueAtPercentile(float64) int64
	Max() int64
	Min() int64
	Mean() float64
}

// hist returns the decoded form h keeps, or decodes the sparse one; an
// undecodable h reads as empty.
func (h Histogram) hist() reader {
	if h.h != nil {
		return h.h
	}
	p, err := h.Packed()
	if err != nil {
		return NewHDR()
	}
	return p
}

// Count returns the number of recorded values (0 if Data cannot be decoded).
func (h Histogram) Count() int64 { return h.hist().TotalCount() }

// Percentile returns the value at percentile p (0 < p <= 100), e.g. 99 or
// 99.9, within 0.1%. It returns 0 for an empty or undecodable histogram.
func (h Histogram) Percentile(p float64) time.Duration {
	d := h.hist()
	if d.TotalCount() == 0 {
		return 0
	}
	return time.Duration(d.ValueAtPercentile(p)) * time.Microsecond
}

// Max returns the largest recorded value (within 0.1%).
func (h Histogram) Max() time.Duration {
	d := h.hist()
	if d.TotalCount() == 0 {
		return 0
	}
	return time.Duration(d.Max()) * time.Microsecond
}

// Min returns the smallest recorded value (within 0.1%).
func (h Histogram) Min() time.Duration {
	d := h.hist()
	if d.TotalCount() == 0 {
		return 0
	}
	return time.Duration(d.Min()) * time.Microsecond
}

// Mean returns the mean of the recorded values.
func (h Histogram) Mean() time.Duration {
	return time.Duration(h.hist().Mean() * float64(time.Microsecond))
}

// Unencoded returns h as a Histogram to read from but not to write: its Data
// is empty, which spares the encoding when only the figures are wanted. A nil
// h is empty. h is shared: do not change it afterwards.
func Unencoded(h *hdr.Histogram) Histogram {
	if h == nil {
		h = NewHDR()
	}
	return Histogram{Encoding: HistogramEncoding, Unit: HistogramUnit, h: h}
}

// merge adds other into h and re-encodes h.
func (h *Histogram) merge(other *Histogram) error { return h.mergeEnc(other, true) }

// mergeEnc adds other into h; without encode, h keeps only the decoded form.
func (h *Histogram) mergeEnc(other *Histogram, encode bool) error {
	a, err := h.Packed()
	if err != nil {
		return err
	}
	b, err := other.Packed()
	if err != nil {
		return err
	}
	m := a.Clone()
	if dropped := m.Merge(b); dropped > 0 {
		return fmt.Errorf("result: merge histograms: %d values out of range", dropped)
	}
	if !encode {
		*h = Histogram{Encoding: HistogramEncoding, Unit: HistogramUnit, p: m}
		return nil
	}
	data, ok := encodePacked(m)
	if !ok {
		if data, err = m.Encode(); err != nil {
			return fmt.Errorf("result: encode histogram: %w", err)
		}
	}
	*h = Histogram{Encoding: HistogramEncoding, Unit: HistogramUnit, Data: string(data), p: m}
	return nil
}
