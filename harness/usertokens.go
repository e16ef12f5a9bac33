package harness

import (
	"fmt"
	"strings"

	"github.com/cxload/cxload/harness/auth"
)

// EnvUserTokens names a user tokens file (auth.ReadUserTokens): JSON
// [{"userId" or "email", "accessToken", "refreshToken", "expiresAt"}], one
// entry per test user in the order of the agents, e.g. written by the org's
// SSO. With it the token pool is auth.PerUser: agent k acts as user k and
// has its own notification channels.
const EnvUserTokens = "CXLOAD_USER_TOKENS"

// ResolveUserTokens reads the file CXLOAD_USER_TOKENS names; none set
// returns nil. Errors name the variable, the file, the line and the field,
// never a token.
func ResolveUserTokens(getenv func(string) string) ([]auth.UserToken, error) {
	path := strings.TrimSpace(getenv(EnvUserTokens))
	if path == "" {
		return nil, nil
	}
	us, err := auth.ReadUserTokens(path)
	if err != nil {
		return nil, fmt.Errorf("harness: %s: %w", EnvUserTokens, err)
	}
	return us, nil
}
