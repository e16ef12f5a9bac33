package reports_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cxload/cxload/reports"
	"github.com/cxload/cxload/reports/testjson"
)

// readInputs reads inputs (name, content) through one InputSet and returns
// the first repetition found.
func readInputs(t *testing.T, inputs ...[2]string) error {
	t.Helper()
	var set reports.InputSet
	for _, in := range inputs {
		r := testjson.NewReader(set.Reader(in[0], strings.NewReader(in[1])), in[0])
		for r.Scan() {
			if err := set.Add(r.Result()); err != nil {
				return err
			}
		}
		require.NoError(t, r.Err())
		if err := set.Done(); err != nil {
			return err
		}
	}
	return nil
}

func TestInputSet(t *testing.T) {
	doc := func(shard string) string {
		return `{"Action":"output","Package":"p","Test":"TestS","Output":"cxload-result: {\"schema\":\"cxload.result/v1\",\"scenario\":\"S\",\"shard\":\"` +
			shard + `\",\"labels\":{\"region\":\"sim\"}}\n"}` + "\n"
	}
	pass := `{"Action":"pass","Package":"p","Test":"TestS"}` + "\n"
	for _, tc := range []struct {
		name   string
		inputs [][2]string
		want   string // "" when no repetition
	}{
		// Shards of one cell in their own files: the normal CI matrix.
		{"shards apart", [][2]string{{"a", doc("1/2")}, {"b", doc("2/2")}}, ""},
		// One file with the scenario twice (go test -count 2) is one input.
		{"count 2", [][2]string{{"a", doc("1/2") + doc("1/2")}}, ""},
		// Empty inputs repeat nothing.
		{"empty", [][2]string{{"a", ""}, {"b", ""}}, ""},
		{"same content", [][2]string{{"a", pass}, {"b", pass}}, "b has the same content as a"},
		{"one shard twice", [][2]string{{"a", doc("1/2")}, {"b", pass + doc("1/2")}}, "a and b both hold the results of scenario S [region=sim] shard 1/2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := readInputs(t, tc.inputs...)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			var dup *reports.DuplicateInputError
			require.True(t, errors.As(err, &dup), "err = %v, want a *DuplicateInputError", err)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}
