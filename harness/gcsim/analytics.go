package gcsim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// The details query's selection: its interval and its conversation and
// segment filters (the SDK's ConversationDetailQueryFilter and
// SegmentDetailQueryFilter), applied to the conversations the simulator
// keeps.

// detailFilter is one conversation or segment filter: predicates and
// clauses joined by Type ("and" or "or").
type detailFilter struct {
	Type       string            `json:"type"`
	Clauses    []detailClause    `json:"clauses"`
	Predicates []detailPredicate `json:"predicates"`
}

type detailClause struct {
	Type       string            `json:"type"`
	Predicates []detailPredicate `json:"predicates"`
}

// detailPredicate is a dimension predicate; property and metric predicates
// are refused (the simulator keeps no properties or metric ranges to
// compare).
type detailPredicate struct {
	Type      string `json:"type"`
	Dimension string `json:"dimension"`
	Operator  string `json:"operator"`
	Value     string `json:"value"`
	Property  string `json:"property"`
	Metric    string `json:"metric"`
}

// segmentDimensions are the segment-filter dimensions the simulator can
// answer, with how to read one from a segment.
var segmentDimensions = map[string]func(r segmentRow) string{
	"conversationId": func(r segmentRow) string { return r.conv.ID },
	"participantId":  func(r segmentRow) string { return r.p.ID },
	"sessionId":      func(r segmentRow) string { return r.p.CallID },
	"purpose":        func(r segmentRow) string { return r.p.Purpose },
	"userId":         func(r segmentRow) string { return r.p.UserID },
	"queueId":        func(r segmentRow) string { return r.p.QueueID },
	"mediaType":      func(segmentRow) string { return "voice" },
	"direction":      func(r segmentRow) string { return r.p.Direction },
	"segmentType":    func(r segmentRow) string { return r.seg.Type },
	"disconnectType": func(r segmentRow) string {
		if r.last && !r.seg.End.IsZero() {
			return r.p.DisconnectType
		}
		return ""
	},
	"wrapUpCode": func(r segmentRow) string {
		if r.seg.Type == "wrapup" && r.p.Wrapup != nil {
			return r.p.Wrapup.Code
		}
		return ""
	},
}

// conversationDimensions are the conversation-filter dimensions the
// simulator can answer.
var conversationDimensions = map[string]func(r segmentRow) string{
	"conversationId":       func(r segmentRow) string { return r.conv.ID },
	"originatingDirection": func(r segmentRow) string { return originatingDirection(r.conv) },
	"divisionId":           func(segmentRow) string { return homeDivision.ID },
}

// segmentRow is one segment of one participant of a conversation, what a
// segment predicate is evaluated on (a conversation predicate reads conv
// only).
type segmentRow struct {
	conv *conversation
	p    *participant
	seg  segment
	last bool // the participant's last segment
}

// check validates the filters of one kind ("segmentFilters" or
// "conversationFilters"), naming the first thing the simulator cannot
// evaluate.
func checkFilters(kind string, fs []detailFilter, dims map[string]func(segmentRow) string) error {
	checkType := func(where, t string) error {
		if t != "" && t != "and" && t != "or" {
			return fmt.Errorf("%s.type %q: want and or or", where, t)
		}
		return nil
	}
	checkPred := func(where string, p detailPredicate) error {
		if p.Type != "" && p.Type != "dimension" {
			return fmt.Errorf("%s.type %q: the simulator evaluates dimension predicates only", where, p.Type)
		}
		if dims[p.Dimension] == nil {
			return fmt.Errorf("%s.dimension %q: not one the simulator models (it has %s)", where, p.Dimension,
				strings.Join(slices.Sorted(maps.Keys(dims)), ", "))
		}
		switch p.Operator {
		case "", "matches", "exists", "notExists":
		default:
			return fmt.Errorf("%s.operator %q: want matches, exists or notExists", where, p.Operator)
		}
		return nil
	}
	for i, f := range fs {
		w := fmt.Sprintf("%s[%d]", kind, i)
		if err := checkType(w, f.Type); err != nil {
			return err
		}
		if len(f.Predicates) == 0 && len(f.Clauses) == 0 {
			return fmt.Errorf("%s: a filter needs predicates or clauses", w)
		}
		for j, p := range f.Predicates {
			if err := checkPred(fmt.Sprintf("%s.predicates[%d]", w, j), p); err != nil {
				return err
			}
		}
		for j, c := range f.Clauses {
			cw := fmt.Sprintf("%s.clauses[%d]", w, j)
			if err := checkType(cw, c.Type); err != nil {
				return err
			}
			for k, p := range c.Predicates {
				if err := checkPred(fmt.Sprintf("%s.predicates[%d]", cw, k), p); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (p detailPredicate) holds(r segmentRow, dims map[string]func(segmentRow) string) bool {
	v := dims[p.Dimension](r)
	switch p.Operator {
	case "exists":
		return v != ""
	case "notExists":
		return v == ""
	}
	return v != "" && v == p.Value
}

// join combines results by typ: "or" is any, anything else all.
func join(typ string, n int, ok func(i int) bool) bool {
	for i := range n {
		if ok(i) == (typ == "or") {
			return typ == "or"
		}
	}
	return typ != "or"
}

func (f detailFilter) holds(r segmentRow, dims map[string]func(segmentRow) string) bool {
	np := len(f.Predicates)
	return join(f.Type, np+len(f.Clauses), func(i int) bool {
		if i < np {
			return f.Predicates[i].holds(r, dims)
		}
		c := f.Clauses[i-np]
		return join(c.Type, len(c.Predicates), func(k int) bool { return c.Predicates[k].holds(r, dims) })
	})
}

// matchesFilters reports whether conv passes every conversation filter and
// every segment filter; a segment filter passes when one segment of the
// conversation satisfies it.
func matchesFilters(conv *conversation, convFs, segFs []detailFilter) bool {
	for _, f := range convFs {
		if !f.holds(segmentRow{conv: conv}, conversationDimensions) {
			return false
		}
	}
	for _, f := range segFs {
		found := false
		for _, p := range conv.parts {
			for k, sg := range p.segs {
				if f.holds(segmentRow{conv: conv, p: p, seg: sg, last: k == len(p.segs)-1}, segmentDimensions) {
					found = true
					break
				}
			}
			if found {
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// inInterval applies the details query's interval as the SDK's
// ConversationQuery documents it: conversations that started on a (UTC)
// day the interval touches and that started, ended or were active during
// the interval [from, to).
func inInterval(conv *conversation, from, to time.Time) bool {
	day := func(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
	startDay := day(conv.Start)
	if startDay.Before(day(from)) || startDay.After(day(to.Add(-time.Nanosecond))) {
		return false
	}
	return conv.Start.Before(to) && (conv.End.IsZero() || !conv.End.Before(from))
}

func originatingDirection(conv *conversation) string {
	if conv.Direction == "" {
		return "outbound"
	}
	return conv.Direction
}
