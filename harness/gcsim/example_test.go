package gcsim_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
	"github.com/cxload/cxload/harness/genesys"
)

// Example gets a token with client credentials and calls the API.
func Example() {
	srv := gcsim.NewServer(nil)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL()+"/oauth/token",
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	req.SetBasicAuth(gcsim.DefaultClientID, gcsim.DefaultClientSecret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	fmt.Println("expires_in:", tok.ExpiresIn)

	req, _ = http.NewRequest("GET", srv.URL()+"/api/v2/routing/queues?pageSize=5", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err = srv.Client().Do(req)
	if err != nil {
		panic(err)
	}
	var page struct{ Total, PageCount int }
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "queues:", page.Total, "pages:", page.PageCount)
	fmt.Println("inin-ratelimit:", resp.Header.Get("inin-ratelimit-count"), "of", resp.Header.Get("inin-ratelimit-allowed"))
	// Output:
	// expires_in: 86399
	// 200 queues: 20 pages: 4
	// inin-ratelimit: 1 of 300
}

// ExampleParseProfile shows a profile error: it names the JSON path.
func ExampleParseProfile() {
	_, err := gcsim.ParseProfile([]byte(`{"limits": [{"key": "k", "namespace": "n", "scope": "token", "allowed": 0, "window": "60s"}]}`))
	fmt.Println(err)
	p, _ := gcsim.ParseProfile([]byte(`{"directory": {"agents": 50}}`))
	fmt.Println(p.Directory.Agents, p.Limits[0].Key, p.Limits[0].Allowed)
	// Output:
	// gcsim: profile: limits[0].allowed: must be > 0 (set "disabled": true to turn the limit off)
	// 50 token.rate.per.minute 300
}

// ExampleServer_SetFaults makes every queue listing fail with 503.
func ExampleServer_SetFaults() {
	srv := gcsim.NewServer(nil)
	defer srv.Close()
	srv.SetFaults(gcsim.Faults{Families: map[string]gcsim.FaultSpec{
		genesys.FamilyQueues: {ErrorRate: 1, RetryAfter: gcsim.Duration(3 * time.Second)},
	}})
	resp, err := srv.Client().Get(srv.URL() + "/api/v2/routing/queues")
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, "Retry-After:", resp.Header.Get("Retry-After"))
	fmt.Println("injected:", srv.Stats().Faults.ServiceUnavailable)
	// Output:
	// 503 Retry-After: 3
	// injected: 1
}
