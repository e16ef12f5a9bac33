// Package simtest holds helpers that tests of several packages use against
// the simulator.
package simtest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cxload/cxload/harness/gcsim"
)

// UserToken gets a user token for the simulator's user id from its token
// endpoint (the simulator's password grant, with its default client and
// password): the access token, its refresh token and when it expires.
func UserToken(t testing.TB, sim *gcsim.Server, id string) (access, refresh string, expires time.Time) {
	t.Helper()
	var email string
	for _, u := range sim.Users() {
		if u.ID == id {
			email = u.Email
		}
	}
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {"sim-password"}}
	req, _ := http.NewRequest(http.MethodPost, sim.URL()+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("sim-client", "sim-secret")
	resp, err := sim.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		ExpiresIn    int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("user token for %s: %v (status %d)", email, err, resp.StatusCode)
	}
	return tok.AccessToken, tok.RefreshToken, time.Now().Add(time.Duration(tok.ExpiresIn) * time.Second)
}
