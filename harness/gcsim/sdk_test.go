package gcsim_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// The SDK's models, with exactly the field names of
// testdata/sdk-models.json (TestSDKStructs checks the tags): a body with a
// field the SDK does not define fails to decode (DisallowUnknownFields).
type (
	// Routingstatus
	sdkRoutingStatus struct {
		UserID    string `json:"userId"`
		Status    string `json:"status"`
		StartTime string `json:"startTime"`
	}
	// Userroutingstatususerroutingstatus
	sdkRoutingStatusEvent struct {
		ID            string                      `json:"id"`
		RoutingStatus sdkRoutingStatusEventStatus `json:"routingStatus"`
		ErrorInfo     json.RawMessage             `json:"errorInfo"`
	}
	// Userroutingstatusroutingstatus
	sdkRoutingStatusEventStatus struct {
		Status    string `json:"status"`
		StartTime string `json:"startTime"`
	}
	// Conversationcalleventtopiccallconversation
	sdkCallEvent struct {
		ID              string                `json:"id"`
		Name            string                `json:"name"`
		Participants    []sdkCallEventPartier `json:"participants"`
		OtherMediaURIs  []string              `json:"otherMediaUris"`
		Address         string                `json:"address"`
		RecordingState  string                `json:"recordingState"`
		SecurePause     bool                  `json:"securePause"`
		MaxParticipants int                   `json:"maxParticipants"`
	}
	// Conversationcalleventtopiccallmediaparticipant
	sdkCallEventPartier struct {
		ID                string          `json:"id"`
		Name              string          `json:"name"`
		Address           string          `json:"address"`
		StartTime         string          `json:"startTime"`
		ConnectedTime     string          `json:"connectedTime"`
		EndTime           string          `json:"endTime"`
		StartHoldTime     string          `json:"startHoldTime"`
		Purpose           string          `json:"purpose"`
		State             string          `json:"state"`
		InitialState      string          `json:"initialState"`
		Direction         string          `json:"direction"`
		DisconnectType    string          `json:"disconnectType"`
		Held              bool            `json:"held"`
		WrapupRequired    bool            `json:"wrapupRequired"`
		WrapupPrompt      string          `json:"wrapupPrompt"`
		User              *sdkURIRef      `json:"user"`
		Queue             *sdkURIRef      `json:"queue"`
		WrapupTimeoutMs   int64           `json:"wrapupTimeoutMs"`
		AlertingTimeoutMs int64           `json:"alertingTimeoutMs"`
		Wrapup            *sdkEventWrapup `json:"wrapup"`
		StartAcwTime      string          `json:"startAcwTime"`
		EndAcwTime        string          `json:"endAcwTime"`
		Muted             bool            `json:"muted"`
		Confined          bool            `json:"confined"`
		Recording         bool            `json:"recording"`
		RecordingState    string          `json:"recordingState"`
	}
	// Conversationcalleventtopicurireference
	sdkURIRef struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	// Conversationcalleventtopicwrapup
	sdkEventWrapup struct {
		Code            string   `json:"code"`
		Notes           string   `json:"notes"`
		Tags            []string `json:"tags"`
		DurationSeconds int      `json:"durationSeconds"`
		EndTime         string   `json:"endTime"`
	}
	// Conversation
	sdkConversation struct {
		ID             string           `json:"id"`
		StartTime      string           `json:"startTime"`
		EndTime        string           `json:"endTime"`
		Participants   []sdkParticipant `json:"participants"`
		RecordingState string           `json:"recordingState"`
		State          string           `json:"state"`
		SelfURI        string           `json:"selfUri"`
	}
	// Participant
	sdkParticipant struct {
		ID                string     `json:"id"`
		StartTime         string     `json:"startTime"`
		EndTime           string     `json:"endTime"`
		ConnectedTime     string     `json:"connectedTime"`
		Name              string     `json:"name"`
		UserID            string     `json:"userId"`
		QueueID           string     `json:"queueId"`
		Purpose           string     `json:"purpose"`
		Address           string     `json:"address"`
		WrapupRequired    bool       `json:"wrapupRequired"`
		WrapupTimeoutMs   int64      `json:"wrapupTimeoutMs"`
		Wrapup            *sdkWrapup `json:"wrapup"`
		AlertingTimeoutMs int64      `json:"alertingTimeoutMs"`
		StartAcwTime      string     `json:"startAcwTime"`
		EndAcwTime        string     `json:"endAcwTime"`
		Calls             []sdkCall  `json:"calls"`
	}
	// Call
	sdkCall struct {
		State             string `json:"state"`
		ID                string `json:"id"`
		Direction         string `json:"direction"`
		Recording         bool   `json:"recording"`
		RecordingState    string `json:"recordingState"`
		Muted             bool   `json:"muted"`
		Confined          bool   `json:"confined"`
		Held              bool   `json:"held"`
		DisconnectType    string `json:"disconnectType"`
		StartHoldTime     string `json:"startHoldTime"`
		StartAlertingTime string `json:"startAlertingTime"`
		ConnectedTime     string `json:"connectedTime"`
		DisconnectedTime  string `json:"disconnectedTime"`
	}
	// Wrapup
	sdkWrapup struct {
		Code            string `json:"code"`
		Name            string `json:"name"`
		Notes           string `json:"notes"`
		DurationSeconds int    `json:"durationSeconds"`
		EndTime         string `json:"endTime"`
	}
	// Wrapupcode
	sdkWrapupCode struct {
		ID           string         `json:"id"`
		Name         string         `json:"name"`
		Division     sdkStarrableDv `json:"division"`
		Description  string         `json:"description"`
		DateCreated  string         `json:"dateCreated"`
		DateModified string         `json:"dateModified"`
		CreatedBy    string         `json:"createdBy"`
		ModifiedBy   string         `json:"modifiedBy"`
		SelfURI      string         `json:"selfUri"`
	}
	// Starrabledivision
	sdkStarrableDv struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		SelfURI string `json:"selfUri"`
	}
	// Createcallresponse
	sdkCreateCall struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		SelfURI string `json:"selfUri"`
	}
	// Userqueueentitylisting
	sdkUserQueues struct {
		Entities    []sdkUserQueue `json:"entities"`
		PageSize    int            `json:"pageSize"`
		PageNumber  int            `json:"pageNumber"`
		Total       int            `json:"total"`
		FirstURI    string         `json:"firstUri"`
		NextURI     string         `json:"nextUri"`
		PreviousURI string         `json:"previousUri"`
		LastURI     string         `json:"lastUri"`
		SelfURI     string         `json:"selfUri"`
		PageCount   int            `json:"pageCount"`
	}
	// Userqueue
	sdkUserQueue struct {
		ID                    string          `json:"id"`
		Name                  string          `json:"name"`
		Division              sdkStarrableDv  `json:"division"`
		Description           string          `json:"description"`
		DateCreated           string          `json:"dateCreated"`
		DateModified          string          `json:"dateModified"`
		ModifiedBy            string          `json:"modifiedBy"`
		CreatedBy             string          `json:"createdBy"`
		MemberCount           int             `json:"memberCount"`
		UserMemberCount       int             `json:"userMemberCount"`
		JoinedMemberCount     int             `json:"joinedMemberCount"`
		ACWSettings           json.RawMessage `json:"acwSettings"`
		SkillEvaluationMethod string          `json:"skillEvaluationMethod"`
		EnableTranscription   bool            `json:"enableTranscription"`
		Joined                bool            `json:"joined"`
		SelfURI               string          `json:"selfUri"`
	}
	// Queuememberentitylisting
	sdkQueueMembers struct {
		Entities    []sdkQueueMember `json:"entities"`
		PageNumber  int              `json:"pageNumber"`
		PageSize    int              `json:"pageSize"`
		FirstURI    string           `json:"firstUri"`
		NextURI     string           `json:"nextUri"`
		PreviousURI string           `json:"previousUri"`
		SelfURI     string           `json:"selfUri"`
	}
	// Queuemember
	sdkQueueMember struct {
		ID            string           `json:"id"`
		Name          string           `json:"name"`
		User          json.RawMessage  `json:"user"`
		RingNumber    int              `json:"ringNumber"`
		Joined        bool             `json:"joined"`
		MemberBy      string           `json:"memberBy"`
		RoutingStatus sdkRoutingStatus `json:"routingStatus"`
		SelfURI       string           `json:"selfUri"`
	}
)

// sdkModels maps each struct above to its model in sdk-models.json.
var sdkModels = map[reflect.Type]string{
	reflect.TypeFor[sdkRoutingStatus]():            "Routingstatus",
	reflect.TypeFor[sdkRoutingStatusEvent]():       "Userroutingstatususerroutingstatus",
	reflect.TypeFor[sdkRoutingStatusEventStatus](): "Userroutingstatusroutingstatus",
	reflect.TypeFor[sdkCallEvent]():                "Conversationcalleventtopiccallconversation",
	reflect.TypeFor[sdkCallEventPartier]():         "Conversationcalleventtopiccallmediaparticipant",
	reflect.TypeFor[sdkURIRef]():                   "Conversationcalleventtopicurireference",
	reflect.TypeFor[sdkEventWrapup]():              "Conversationcalleventtopicwrapup",
	reflect.TypeFor[sdkConversation]():             "Conversation",
	reflect.TypeFor[sdkParticipant]():              "Participant",
	reflect.TypeFor[sdkCall]():                     "Call",
	reflect.TypeFor[sdkWrapup]():                   "Wrapup",
	reflect.TypeFor[sdkWrapupCode]():               "Wrapupcode",
	reflect.TypeFor[sdkStarrableDv]():              "Starrabledivision",
	reflect.TypeFor[sdkCreateCall]():               "Createcallresponse",
	reflect.TypeFor[sdkUserQueues]():               "Userqueueentitylisting",
	reflect.TypeFor[sdkUserQueue]():                "Userqueue",
	reflect.TypeFor[sdkQueueMembers]():             "Queuememberentitylisting",
	reflect.TypeFor[sdkQueueMember]():              "Queuemember",
}

// TestSDKStructs: every JSON name of the test's SDK structs is a field of
// its model in sdk-models.json, so that strict decoding checks the
// simulator against the SDK, not against the test.
func TestSDKStructs(t *testing.T) {
	data, err := os.ReadFile("testdata/sdk-models.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Models map[string]struct {
			Fields []string `json:"fields"`
		} `json:"models"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for typ, model := range sdkModels {
		m, ok := doc.Models[model]
		if !ok {
			t.Errorf("%v: model %s is not in sdk-models.json", typ, model)
			continue
		}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			found := false
			for _, x := range m.Fields {
				found = found || x == name
			}
			if !found {
				t.Errorf("%v.%s: %q is not a field of %s (%v)", typ, f.Name, name, model, m.Fields)
			}
		}
	}
}

// strict decodes data into v, refusing fields v does not name.
func strict(tb testing.TB, what string, data []byte, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("%s: %v in %s", what, err, data)
	}
}
