package result

import (
	"bytes"
	"cmp"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"io"
	"math"
	"math/bits"
	"slices"
	"sync"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// The encoder and decoder of this package's own histograms: they write and
// read exactly what hdrhistogram-go does for the documents' geometry, but
// reuse their zlib state, which hdrhistogram-go allocates for every
// histogram and which dominates reading and merging many documents.

// The layout of this package's histograms (see hdrhistogram-go): counts in
// buckets of 2*subHalf sub-buckets, the first bucket whole and the others
// in their upper half, each bucket twice the range of the one before.
var (
	histCounts  = int64(len(NewHDR().Export().Counts))
	histSubHalf = int64(1) << (bits.Len64(2*pow10(histDigits)-1) - 1) // lowest 1: unit magnitude 0
)

// payloadQuantiles computes Quantiles from a payload checkOwn returned, with
// hdrhistogram-go's rules: the rank of percentile p of n values is p/100*n
// rounded, at least 1 and at most n; its value is the highest value of the
// bucket that holds it (the lowest, for p = 0).
func payloadQuantiles(payload []byte, ps []float64) Quantiles {
	// The payload twice: the count and the largest value, then the values.
	var idx, last int64
	q := Quantiles{Values: make([]int64, len(ps))}
	walk := func(f func(idx, count int64)) {
		idx = 0
		for b := payload; len(b) > 0; {
			count, n := readZigZag(b)
			b = b[n:]
			if count < 0 {
				idx += -count
				continue
			}
			if count > 0 {
				f(idx, count)
			}
			idx++
		}
	}
	walk(func(i, c int64) { q.Count, last = q.Count+c, i })
	if q.Count == 0 {
		return q
	}
	q.Max = histHighestAt(last)
	type target struct {
		i    int   // in ps
		rank int64 // the rank of ps[i]: 1 to q.Count
		zero bool  // ps[i] <= 0: the lowest value of the bucket
	}
	ts := make([]target, len(ps))
	for i, p := range ps {
		p = min(max(p, 0), 100)
		rank := p/100*float64(q.Count) + 0.5
		ts[i] = target{i: i, rank: q.Count, zero: p == 0}
		switch {
		case !(rank >= 1):
			ts[i].rank = 1
		case rank < float64(q.Count):
			ts[i].rank = int64(rank)
		}
	}
	slices.SortFunc(ts, func(a, b target) int { return cmp.Compare(a.rank, b.rank) })
	var cum int64
	walk(func(i, c int64) {
		for cum += c; len(ts) > 0 && ts[0].rank <= cum; ts = ts[1:] {
			if ts[0].zero {
				q.Values[ts[0].i] = histValueAt(i)
			} else {
				q.Values[ts[0].i] = histHighestAt(i)
			}
		}
	})
	return q
}

// histHighestAt returns the highest value counted at index i of the counts.
func histHighestAt(i int64) int64 {
	bucket := max(i/histSubHalf-1, 0)
	return histValueAt(i) + 1<<bucket - 1
}

// encodeOwn returns what h.Encode(hdr.V2CompressedEncodingCookieBase)
// returns, byte for byte, for a histogram of this package's geometry, with
// a reused zlib writer: hdrhistogram-go allocates and clears one of about
// 1 MB for every histogram, which dominates merging the shards of many
// documents. ok is false for another geometry.
func encodeOwn(h *hdr.Histogram) (b []byte, ok bool) {
	s := h.Export()
	if s.LowestTrackableValue != histLowest || s.HighestTrackableValue != histHighest || s.SignificantFigures != histDigits ||
		(s.IntegerToDoubleConversionRatio != 0 && s.IntegerToDoubleConversionRatio != 1) {
		return nil, false
	}
	e := ownEncoders.Get().(*ownEncoder)
	defer ownEncoders.Put(e)
	limit := 1 // the counts up to the largest value's, as hdrhistogram-go writes them
	for i := len(s.Counts) - 1; i >= 0; i-- {
		if s.Counts[i] != 0 {
			limit = i + 1
			break
		}
	}
	in := appendHeader(e.in[:0])
	for i := 0; i < limit; {
		count := s.Counts[i]
		i++
		if count == 0 {
			zeros := int64(1)
			for i < limit && s.Counts[i] == 0 {
				zeros++
				i++
			}
			if zeros > 1 {
				count = -zeros
			}
		}
		in = appendZigZag(in, count)
	}
	e.in = in
	return e.wrap(in)
}

// encodePacked is encodeOwn for a sparse histogram: what p.Encode() returns,
// byte for byte (it writes a conversion ratio of 1, which is all this
// package writes). ok is false for another geometry.
func encodePacked(p *hdr.PackedHistogram) (b []byte, ok bool) {
	if p.LowestTrackableValue() != histLowest || p.HighestTrackableValue() != histHighest || p.SignificantFigures() != histDigits {
		return nil, false
	}
	e := ownEncoders.Get().(*ownEncoder)
	defer ownEncoders.Put(e)
	in := appendHeader(e.in[:0])
	next := int64(0) // the next index of the counts to write
	for v, c := range p.ForEachBucket {
		if c == 0 {
			continue
		}
		i := histIndexOf(v)
		switch zeros := i - next; {
		case zeros > 1:
			in = appendZigZag(in, -zeros)
		case zeros == 1:
			in = appendZigZag(in, 0)
		}
		in = appendZigZag(in, c)
		next = i + 1
	}
	if next == 0 {
		in = appendZigZag(in, 0) // empty: the count of index 0
	}
	e.in = in
	return e.wrap(in)
}

// appendHeader appends the header of a V2 payload of this package's
// geometry; wrap fills in the payload's length.
func appendHeader(in []byte) []byte {
	in = binary.BigEndian.AppendUint32(in, uint32(hdr.V2EncodingCookieBase|0x10))
	in = binary.BigEndian.AppendUint32(in, 0) // the payload's length
	in = binary.BigEndian.AppendUint32(in, 0) // normalizing index offset
	in = binary.BigEndian.AppendUint32(in, histDigits)
	in = binary.BigEndian.AppendUint64(in, histLowest)
	in = binary.BigEndian.AppendUint64(in, uint64(histHighest))
	return binary.BigEndian.AppendUint64(in, math.Float64bits(1))
}

// wrap compresses in, a header and its payload, into the base64 V2
// compressed form.
func (e *ownEncoder) wrap(in []byte) ([]byte, bool) {
	binary.BigEndian.PutUint32(in[4:8], uint32(len(in)-40))
	e.out.Reset()
	e.out.Write(make([]byte, 8))
	if e.z == nil {
		e.z, _ = zlib.NewWriterLevel(&e.out, zlib.BestCompression) // a valid level: no error
	} else {
		e.z.Reset(&e.out)
	}
	if _, err := e.z.Write(in); err != nil {
		return nil, false
	}
	if err := e.z.Close(); err != nil {
		return nil, false
	}
	out := e.out.Bytes()
	binary.BigEndian.PutUint32(out[0:4], uint32(hdr.V2CompressedEncodingCookieBase|0x10))
	binary.BigEndian.PutUint32(out[4:8], uint32(len(out)-8))
	return base64.StdEncoding.AppendEncode(nil, out), true
}

// ownEncoder is what encodeOwn reuses from one histogram to the next.
type ownEncoder struct {
	in  []byte
	out bytes.Buffer
	z   *zlib.Writer
}

var ownEncoders = sync.Pool{New: func() any { return new(ownEncoder) }}

// appendZigZag appends v as hdrhistogram-go writes a count: ZigZag LEB128
// of at most 9 bytes, the ninth with 8 bits.
func appendZigZag(b []byte, v int64) []byte {
	u := uint64((v << 1) ^ (v >> 63))
	for n := 0; n < 8; n++ {
		if u>>7 == 0 {
			return append(b, byte(u))
		}
		b = append(b, byte(u&0x7f|0x80))
		u >>= 7
	}
	return append(b, byte(u))
}

// checkOwn checks data, a histogram this package wrote (its geometry, V2
// compressed, base64), and returns its payload. It checks what hdrhistogram-go's
// DecodePacked checks, and more, but reuses its zlib reader: DecodePacked
// allocates and initializes one for every histogram, which dominates the
// reading of many result documents. For anything else (another geometry,
// corrupt data) ok is false, and the caller decodes with hdrhistogram-go,
// which says what is wrong.
func checkOwn(data []byte) (payload []byte, ok bool) {
	d := ownDecoders.Get().(*ownDecoder)
	defer ownDecoders.Put(d)
	size := base64.StdEncoding.DecodedLen(len(data))
	raw := slices.Grow(d.raw[:0], size)[:size]
	n, err := base64.StdEncoding.Decode(raw, data)
	d.raw = raw
	if err != nil || n < 8 {
		return nil, false
	}
	raw = raw[:n]
	clen := int64(int32(binary.BigEndian.Uint32(raw[4:8])))
	if int32(binary.BigEndian.Uint32(raw[0:4]))&^0xf0 != hdr.V2CompressedEncodingCookieBase || clen < 0 || clen > int64(len(raw)-8) {
		return nil, false
	}
	d.src.Reset(raw[8 : 8+clen])
	if d.z == nil {
		if d.z, err = zlib.NewReader(&d.src); err != nil {
			d.z = nil
			return nil, false
		}
	} else if err := d.z.(zlib.Resetter).Reset(&d.src, nil); err != nil {
		return nil, false
	}
	var head [40]byte
	if _, err := io.ReadFull(d.z, head[:]); err != nil {
		return nil, false
	}
	payloadLen := int64(int32(binary.BigEndian.Uint32(head[4:8])))
	if int32(binary.BigEndian.Uint32(head[0:4]))&^0xf0 != hdr.V2EncodingCookieBase ||
		int32(binary.BigEndian.Uint32(head[12:16])) != histDigits ||
		int64(binary.BigEndian.Uint64(head[16:24])) != histLowest ||
		int64(binary.BigEndian.Uint64(head[24:32])) != histHighest ||
		math.Float64frombits(binary.BigEndian.Uint64(head[32:40])) != 1 ||
		payloadLen < 0 || payloadLen > histCounts*9 {
		return nil, false
	}
	payload = slices.Grow(d.payload[:0], int(payloadLen))[:payloadLen]
	d.payload = payload
	if _, err := io.ReadFull(d.z, payload); err != nil {
		return nil, false
	}
	if n, err := d.z.Read(head[:1]); n != 0 || err != io.EOF { // the end, and the checksum checked
		return nil, false
	}
	var idx, total int64
	for p := payload; len(p) > 0; {
		count, n := readZigZag(p)
		if n == 0 {
			return nil, false
		}
		p = p[n:]
		switch {
		case count < 0:
			if -count <= 0 || -count > histCounts-idx {
				return nil, false
			}
			idx += -count
			continue
		case idx >= histCounts || count > math.MaxInt64-total:
			return nil, false
		}
		total += count
		idx++
	}
	return slices.Clone(payload), true
}

// buildOwn decodes a payload checkOwn returned.
func buildOwn(payload []byte) *hdr.PackedHistogram {
	p := hdr.NewPacked(histLowest, histHighest, histDigits)
	var idx int64
	for len(payload) > 0 {
		count, n := readZigZag(payload)
		payload = payload[n:]
		if count < 0 {
			idx += -count
			continue
		}
		if count > 0 {
			_ = p.RecordValues(histValueAt(idx), count) // checked: in range, no overflow
		}
		idx++
	}
	return p
}

// ownDecoder is what decodeOwn reuses from one histogram to the next.
type ownDecoder struct {
	src     bytes.Reader
	z       io.ReadCloser
	raw     []byte
	payload []byte
}

var ownDecoders = sync.Pool{New: func() any { return new(ownDecoder) }}

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// histIndexOf returns the index in the counts of value v: the inverse of
// histValueAt.
func histIndexOf(v int64) int64 {
	bucket := int64(bits.Len64(uint64(v)|uint64(2*histSubHalf-1)) - bits.Len64(uint64(histSubHalf)))
	return bucket*histSubHalf + v>>bucket
}

// histValueAt returns the lowest value counted at index i of the counts.
func histValueAt(i int64) int64 {
	bucket := i/histSubHalf - 1
	sub := i%histSubHalf + histSubHalf
	if bucket < 0 {
		sub -= histSubHalf
		bucket = 0
	}
	return sub << bucket
}

// readZigZag reads one count of a V2 payload: ZigZag LEB128 of at most 9
// bytes, the ninth with 8 bits. n is 0 if buf ends within it.
func readZigZag(buf []byte) (v int64, n int) {
	if len(buf) > 0 && buf[0] < 0x80 { // most counts and zero runs
		return int64(buf[0]>>1) ^ -int64(buf[0]&1), 1
	}
	var u uint64
	for n < 9 {
		if n >= len(buf) {
			return 0, 0
		}
		b := buf[n]
		if n == 8 {
			u |= uint64(b) << 56
			n++
			break
		}
		u |= uint64(b&0x7f) << (7 * n)
		n++
		if b&0x80 == 0 {
			break
		}
	}
	return int64((u >> 1) ^ -(u & 1)), n
}
