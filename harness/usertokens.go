package harness

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/cxload/cxload/harness/auth"
	"github.com/cxload/cxload/internal/safefile"
)

// EnvUserTokens names a user tokens file (auth.ReadUserTokens): JSON
// [{"userId" or "email", "accessToken", "refreshToken", "expiresAt"}], one
// entry per test user in the order of the agents, e.g. written by the org's
// SSO. With it the token pool is auth.PerUser: agent k acts as user k and
// has its own notification channels.
const EnvUserTokens = "CXLOAD_USER_TOKENS"

// EnvSAMLAssertions names a directory of SAML assertions, <userId or
// email>.saml (base64), one per test user, read afresh at each use
// (auth.AssertionsFromDir). On a tenant it makes the per-agent pool per
// user: the users of CXLOAD_USER_TOKENS, or else the fixture users of
// CXLOAD_USERS in order, get their tokens with the SAML2 bearer grant when
// they have no refresh token or theirs is refused.
const EnvSAMLAssertions = "CXLOAD_SAML_ASSERTIONS"

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

// samlHowTo says what CXLOAD_SAML_ASSERTIONS must hold.
const samlHowTo = "a directory holding one <userId or email>.saml file per test user, its base64 SAML assertion"

var errEmpty = errors.New("empty")

// maxMissingNamed bounds the users a missing-assertions error names.
const maxMissingNamed = 5

// resolveSAML reads CXLOAD_SAML_ASSERTIONS of a tenant configuration: the
// directory and the users of the per-user pool (tokens, CXLOAD_USER_TOKENS'
// entries, else the fixture file's users), each of whom must have an
// assertion file within auth.MaxAssertionSize. Errors name the variable,
// the path and the fix, never an assertion.
func resolveSAML(getenv func(string) string, fx Fixtures, tokens []auth.UserToken) (string, []auth.UserToken, []error) {
	dir := strings.TrimSpace(getenv(EnvSAMLAssertions))
	if dir == "" {
		return "", tokens, nil
	}
	bad := func(format string, args ...any) []error {
		return []error{fmt.Errorf("harness: %s=%q: "+format, append([]any{EnvSAMLAssertions, dir}, args...)...)}
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil, bad("no such directory; point it at %s, or unset it", samlHowTo)
	case err != nil:
		return "", nil, bad("cannot read it (%v); point it at %s, or unset it", errors.Unwrap(err), samlHowTo)
	case !fi.IsDir():
		return "", nil, bad("not a directory; point it at %s, or unset it", samlHowTo)
	}
	if _, err := os.ReadDir(dir); err != nil {
		return "", nil, bad("cannot list it (%v); make it readable, or unset it", errors.Unwrap(err))
	}
	users := tokens
	switch {
	case len(users) > 0:
	case len(fx.Users) > 0:
		users = make([]auth.UserToken, len(fx.Users))
		for i, e := range fx.Users {
			if strings.Contains(e, "@") {
				users[i].Email = e
			} else {
				users[i].UserID = e
			}
		}
	case fx.Group != "":
		return "", nil, bad("%s=%s names its users only at run time, and the assertions are per user: set %s to a file of the group's members' ids or emails, or list them in %s",
			EnvUsers, fx.UsersFrom, EnvUsers, EnvUserTokens)
	default:
		return "", nil, bad("%s is not set: the assertions are the fixture users'; %s", EnvUsers, usersHowTo)
	}
	var errs, missing []error
	for _, u := range users {
		path, err := auth.AssertionFile(dir, u.Name())
		if err == nil {
			err = safefile.Check(path, auth.MaxAssertionSize)
		}
		if err == nil {
			if fi, serr := os.Stat(path); serr == nil && fi.Size() == 0 {
				err = errEmpty
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			missing = append(missing, fmt.Errorf("no assertion for user %s: expected file %s", u.Name(), path))
		case errors.Is(err, safefile.ErrTooLarge):
			errs = append(errs, bad("user %s's %s is over %s (auth.MaxAssertionSize): write the user's base64 SAML assertion in it", u.Name(), path, safefile.Size(auth.MaxAssertionSize))...)
		case errors.Is(err, errEmpty):
			errs = append(errs, bad("user %s's %s is empty: write the user's base64 SAML assertion in it", u.Name(), path)...)
		default:
			errs = append(errs, bad("user %s: %v; write the user's base64 SAML assertion in %s", u.Name(), err, path)...)
		}
	}
	if len(missing) > 0 {
		names := missing[:min(len(missing), maxMissingNamed)]
		var b strings.Builder
		for i, m := range names {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(m.Error())
		}
		if more := len(missing) - len(names); more > 0 {
			fmt.Fprintf(&b, "; and %d more", more)
		}
		errs = append(errs, bad("%s: write each test user's base64 SAML assertion in <userId or email>.saml there", b.String())...)
	}
	if len(errs) > 0 {
		return "", nil, errs
	}
	return dir, users, nil
}
