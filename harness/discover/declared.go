package discover

import (
	"context"
	"fmt"

	"github.com/cxload/cxload/harness/api"
)

// DeclaredLimits reads the organization's limits API (api.FetchLimits) for
// Config.Declared. Genesys' SDKs do not pin the API's shape: when it cannot
// be read, a discovery goes on from the rate-limit headers and 429s alone,
// so DeclaredLimits returns no limits and a sentence saying so (unread).
// Only a canceled ctx is an error.
func DeclaredLimits(ctx context.Context, c *api.Client) (declared []api.Bucket, unread string, err error) {
	declared, err = api.FetchLimits(ctx, c)
	switch {
	case err == nil:
		return declared, "", nil
	case ctx.Err() != nil:
		return nil, "", err
	}
	return nil, fmt.Sprintf("The organization's limits API could not be read (%v): the discovery fell back on rate-limit headers and 429s, and reports no limit as declared.", err), nil
}
