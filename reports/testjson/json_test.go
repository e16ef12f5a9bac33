package testjson

import (
	"testing"
	"time"
)

// FuzzDecodeEvent checks that the fast decoder gives exactly what
// encoding/json gives, and never accepts what encoding/json rejects.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{
		`{"Time":"2026-11-26T16:48:17.942003737Z","Action":"output","Package":"p","Test":"T","Output":"a\tb\n"}`,
		`{"Action":"pass","Package":"p","Elapsed":0.016}`,
		`{"ImportPath":"p [p.test]","Action":"build-fail"}`,
		`{"Action":"attr","Package":"p","Test":"T","Key":"k","Value":"v"}`,
		`{"Action":"output","Output":"\u00e9\ud83d\ude00 \"q\" \\ \/"}`,
		`{"Action":"fail","Package":"p","Elapsed":0,"FailedBuild":"p [p.test]"}`,
		`{"Action":"output","Output":"x","Extra":[1,2]}`,
		`{"Action":"output","Output":"x",}`,
		`{"Elapsed":"1"}`,
		` { "Action" : "run" } `,
		`{"Action":"run","Action":"pass"}`,
		`{"action":"run"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast rawEvent
		fastErr := decodeFast(data, &fast, &decoder{})
		var want rawEvent
		stdErr := decodeStd(data, &want)
		if fastErr != nil {
			return // the slow path (encoding/json) decides
		}
		if stdErr != nil {
			t.Fatalf("fast path accepted %q, encoding/json: %v", data, stdErr)
		}
		if !fast.Time.Equal(want.Time) {
			t.Fatalf("%q: time %v, want %v", data, fast.Time, want.Time)
		}
		fast.Time, want.Time = time.Time{}, time.Time{}
		if fast != want {
			t.Fatalf("%q:\nfast %+v\nwant %+v", data, fast, want)
		}
	})
}
