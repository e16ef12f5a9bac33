package genesys

import (
	"net/url"
	"strings"
)

// A Region is a Genesys Cloud region: its name, its domain and the IANA time
// zone used for a load-test window. Hosts are the domain with a prefix:
// api., login. and streaming. (the last as a channel's connectUri gives it).
type Region struct {
	Name   string // e.g. "eu-west-1"
	Domain string // e.g. "mypurecloud.ie"
	Zone   string // e.g. "Europe/Dublin"
}

// APIBase returns the region's Platform API base URL, "https://api.<domain>".
func (r Region) APIBase() string { return "https://api." + r.Domain }

// LoginBase returns the region's OAuth base URL, "https://login.<domain>".
func (r Region) LoginBase() string { return "https://login." + r.Domain }

// StreamingHost returns the host of the region's notification sockets,
// "streaming.<domain>". Use a channel's connectUri as returned; this host is
// for allow-lists and checks.
func (r Region) StreamingHost() string { return "streaming." + r.Domain }

// Regions lists the Genesys Cloud regions (docs/genesys.md). The zone is the
// AWS region's location, which is what "the region's time zone" means in
// Genesys' load-testing policy.
var Regions = []Region{
	{"us-east-1", "mypurecloud.com", "America/New_York"},
	{"us-east-2", "use2.us-gov-pure.cloud", "America/New_York"},
	{"us-west-2", "usw2.pure.cloud", "America/Los_Angeles"},
	{"ca-central-1", "cac1.pure.cloud", "America/Toronto"},
	{"sa-east-1", "sae1.pure.cloud", "America/Sao_Paulo"},
	{"eu-west-1", "mypurecloud.ie", "Europe/Dublin"},
	{"eu-west-2", "euw2.pure.cloud", "Europe/London"},
	{"eu-central-1", "mypurecloud.de", "Europe/Berlin"},
	{"eu-central-2", "euc2.pure.cloud", "Europe/Zurich"},
	{"me-central-1", "mec1.pure.cloud", "Asia/Dubai"},
	{"ap-south-1", "aps1.pure.cloud", "Asia/Kolkata"},
	{"ap-southeast-1", "apse1.pure.cloud", "Asia/Singapore"},
	{"ap-southeast-2", "mypurecloud.com.au", "Australia/Sydney"},
	{"ap-northeast-1", "mypurecloud.jp", "Asia/Tokyo"},
	{"ap-northeast-2", "apne2.pure.cloud", "Asia/Seoul"},
	{"ap-northeast-3", "apne3.pure.cloud", "Asia/Tokyo"},
	{"mx-central-1", "mxc1.pure.cloud", "America/Mexico_City"},
	{"eusc-de-east-1", "edee1.eusc-pure.cloud", "Europe/Berlin"}, // EU sovereign cloud (JavaScript SDK 259)
}

// LookupRegion finds a region by name ("eu-west-1"), domain
// ("mypurecloud.ie"), host ("api.mypurecloud.ie", "login.mypurecloud.ie") or
// URL ("https://api.mypurecloud.ie/"), case-insensitively.
func LookupRegion(s string) (Region, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		s = u.Host
	}
	s = strings.TrimSuffix(s, "/")
	for _, p := range []string{"api.", "login.", "apps.", "streaming."} {
		s = strings.TrimPrefix(s, p)
	}
	for _, r := range Regions {
		if s == r.Name || s == r.Domain {
			return r, true
		}
	}
	return Region{}, false
}

// RegionNames returns the regions' names, in the order of Regions.
func RegionNames() []string {
	n := make([]string, len(Regions))
	for i, r := range Regions {
		n[i] = r.Name
	}
	return n
}
