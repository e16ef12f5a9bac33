package gcsim_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cxload/cxload/harness/gcsim"
)

// TestRequestLogEscapes: a client cannot forge request-log lines or fields
// with control characters, spaces or quotes in the path or in its
// correlation id; they are written quoted and escaped, and plain values
// stay bare.
func TestRequestLogEscapes(t *testing.T) {
	var buf syncBuffer
	s := gcsim.NewUnstartedServer(nil)
	s.RequestLog = &buf
	s.Start()
	defer s.Close()
	tok := token(t, s, gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	forged := "2026-01-01T00:00:00Z POST /admin/reset route=\"/admin/reset\" status=204"
	paths := []struct{ escaped, logged string }{
		{"/api/v2/x%0d%0a" + strings.ReplaceAll(forged, " ", "%20"), `"/api/v2/x\r\n` + strings.ReplaceAll(forged, `"`, `\"`) + `"`},
		{"/api/v2/%22quoted%22%09tab", `"/api/v2/\"quoted\"\ttab"`},
		{"/api/v2/caf%C3%A9", `"/api/v2/caf\u00e9"`},
	}
	for _, p := range paths {
		req, err := http.NewRequest("GET", s.URL()+p.escaped, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Inin-Correlation-Id", "c1 client=admin")
		if r := send(t, s, req); r.Status != http.StatusNotFound {
			t.Fatalf("GET %s = %d, want 404", p.escaped, r.Status)
		}
	}
	do(t, s, "GET", queuesPath, tok, nil)
	s.Close() // a line is written after its answer: wait for the handlers
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("log has %d lines, want 5 (token, 3 odd paths, queues):\n%s", len(lines), buf.String())
	}
	for i, p := range paths {
		line := lines[i+1]
		if !strings.Contains(line, " GET "+p.logged+` route="(unknown)" status=404 `) {
			t.Errorf("line %d = %s\nwant the path written as %s", i+1, line, p.logged)
		}
		if !strings.Contains(line, ` corr="c1 client=admin" client=-`) {
			t.Errorf("line %d = %s\nwant the correlation id quoted", i+1, line)
		}
	}
	if !strings.Contains(lines[4], " GET "+queuesPath+` route="/api/v2/routing/queues" status=200 `) {
		t.Errorf("plain line = %s, want the path bare", lines[4])
	}
}
