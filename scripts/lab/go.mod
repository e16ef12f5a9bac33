// The benchmark lab: cxload measured against peers (scripts/lab/peers) and
// long runs (scripts/lab/soak). A module of its own so that the product
// module carries none of its code or dependencies; it uses the product
// through the replace below.
module github.com/cxload/cxload/scripts/lab

go 1.26.0

require (
	github.com/HdrHistogram/hdrhistogram-go v1.4.0
	github.com/cxload/cxload v0.0.0
	go.uber.org/goleak v1.3.0
	golang.org/x/time v0.16.0
)

require (
	github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
	golang.org/x/oauth2 v0.38.0 // indirect
)

replace github.com/cxload/cxload => ../..
