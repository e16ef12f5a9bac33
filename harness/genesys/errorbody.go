package genesys

// ErrorBody is Genesys' error document (the SDK's ErrorBody), as every
// non-OAuth error response carries it.
type ErrorBody struct {
	Message           string            `json:"message"`
	Code              string            `json:"code"`
	Status            int               `json:"status"`
	MessageWithParams string            `json:"messageWithParams,omitempty"`
	MessageParams     map[string]string `json:"messageParams"`
	ContextID         string            `json:"contextId"`
	Details           []ErrorDetail     `json:"details"`
	Errors            []ErrorBody       `json:"errors"`
	EntityID          string            `json:"entityId,omitempty"`
	EntityName        string            `json:"entityName,omitempty"`
	Limit             *ErrorLimit       `json:"limit,omitempty"`
}

// ErrorDetail is one entry of ErrorBody.Details.
type ErrorDetail struct {
	ErrorCode  string `json:"errorCode,omitempty"`
	FieldName  string `json:"fieldName,omitempty"`
	EntityID   string `json:"entityId,omitempty"`
	EntityName string `json:"entityName,omitempty"`
}

// ErrorLimit is ErrorBody.Limit: the limit that refused a 429.
type ErrorLimit struct {
	Key       string `json:"key"`
	Namespace string `json:"namespace"`
	Value     int    `json:"value"`
}

// OAuthError is the error body of the login host's /oauth/token. Genesys
// sends {"error","description"}; OAuth 2.0 names the description
// error_description, and some answers carry a message instead.
type OAuthError struct {
	Error            string `json:"error"`
	Description      string `json:"description"`
	ErrorDescription string `json:"error_description"`
	Message          string `json:"message"`
}

// Header names, in canonical form (http.CanonicalHeaderKey), so that they
// index an http.Header directly.
const (
	HeaderCorrelationID    = "Inin-Correlation-Id"    // ININ-Correlation-Id: the request's id, echoed
	HeaderRateLimitCount   = "Inin-Ratelimit-Count"   // requests counted in the window
	HeaderRateLimitAllowed = "Inin-Ratelimit-Allowed" // requests allowed per window
	HeaderRateLimitReset   = "Inin-Ratelimit-Reset"   // seconds until the window resets
	HeaderRetryAfter       = "Retry-After"            // on 429: seconds (or an HTTP-date) to wait
)
