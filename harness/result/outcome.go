package result

import "strconv"

// Outcome classifies the final response of one logical request.
type Outcome uint8

// The outcomes a Result can have. The zero value is OK.
const (
	OK             Outcome = iota // a status below 400
	HTTPError                     // 4xx other than 429
	Throttled                     // 429 from the server, or refused by a client-side limiter
	ServerError                   // 5xx, or a 2xx whose body the caller could not decode (api.Client.DoJSON): no usable answer
	TransportError                // no HTTP response: dial, TLS, reset, timeout
	Canceled                      // the caller's context ended first
	NumOutcomes                   // the number of outcomes: every Outcome below it is one of the above
)

var outcomeNames = [NumOutcomes]string{
	OK:             "ok",
	HTTPError:      "http_error",
	Throttled:      "throttled",
	ServerError:    "server_error",
	TransportError: "transport_error",
	Canceled:       "canceled",
}

// String returns the outcome's name as used in the result document:
// "ok", "http_error", "throttled", "server_error", "transport_error", "canceled".
func (o Outcome) String() string {
	if o < NumOutcomes {
		return outcomeNames[o]
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// OutcomeFor classifies an HTTP status code; a status of 0 means no response
// (TransportError).
func OutcomeFor(status int) Outcome {
	switch {
	case status == 0:
		return TransportError
	case status == 429:
		return Throttled
	case status >= 500:
		return ServerError
	case status >= 400:
		return HTTPError
	default:
		return OK
	}
}

// OtherOp is the operation that collects results beyond the most operations
// a Recorder keeps apart.
const OtherOp = "(other)"
