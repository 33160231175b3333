// Package request holds change requests: validation of a profile change
// (change.go, timestamp.go), the PATCH use case (submit.go), the request
// record (record.go) with its Durable-style status (status.go), and the
// service that runs the workflow engine for a request at PATCH time and for
// every later event (service.go), with its field locks (locks.go), the
// service tasks it provides (tasks.go), its transactional outbox
// (outbox.go) and the sweeper that finishes work left behind (sweep.go).
package request

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/profileflow/profileflow/handler/domain"
)

// Fields that a change may touch.
const (
	FieldFirstName     = "firstName"
	FieldLastName      = "lastName"
	FieldMaritalStatus = "maritalStatus"
	FieldDescription   = "description"
)

// MaritalStatuses is the allowed set.
var MaritalStatuses = []string{"Single", "Married", "Divorced", "Widowed", "Separated", "DomesticPartnership"}

// ChangeInput is the PATCH body. Absent fields are left unchanged.
type ChangeInput struct {
	FirstName     *string `json:"firstName,omitempty"`
	LastName      *string `json:"lastName,omitempty"`
	MaritalStatus *string `json:"maritalStatus,omitempty"`
	Description   *string `json:"description,omitempty"`
	Timestamp     *string `json:"timestamp,omitempty"`
	UploadID      *string `json:"uploadId,omitempty"`
	// AnswerTo names a request that was sent back: the change answers it
	// (Service.Answer) instead of opening a new request.
	AnswerTo *string `json:"answerTo,omitempty"`
}

// FieldChange is one field's old and new value.
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Change is a validated, normalised change against a profile.
type Change struct {
	Fields    []FieldChange `json:"changes"`
	Timestamp time.Time     `json:"timestamp"`
	UploadID  string        `json:"uploadId,omitempty"`
	// RequestID is the id Open gives the request ("" = a new one); the
	// Submitter fixes it before anything is spent, so a retry after a
	// stopped call opens the same request.
	RequestID string `json:"-"`
}

// Names returns the changed field names.
func (c Change) Names() []string {
	out := make([]string, len(c.Fields))
	for i, f := range c.Fields {
		out[i] = f.Field
	}
	return out
}

// Has reports whether field changes.
func (c Change) Has(field string) bool {
	for _, f := range c.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// NeedsEvidence reports whether the change touches a field that requires an
// evidence document (anything but the description).
func (c Change) NeedsEvidence() bool {
	return c.Has(FieldFirstName) || c.Has(FieldLastName) || c.Has(FieldMaritalStatus)
}

// Validate normalises and checks in against the current profile. Every
// refusal is KindInvalid naming the field and what is wrong.
func Validate(in ChangeInput, cur domain.Profile, now time.Time) (Change, error) {
	var ch Change
	if in.Timestamp == nil {
		return ch, domain.E(domain.KindInvalid, "timestamp: required (RFC 3339)")
	}
	ts, err := ParseDateTime(*in.Timestamp)
	if err != nil {
		return ch, domain.E(domain.KindInvalid, "timestamp: %q is not an RFC 3339 date-time", truncate(*in.Timestamp))
	}
	if ts.After(now.Add(5 * time.Minute)) {
		return ch, domain.E(domain.KindInvalid, "timestamp: more than 5 minutes in the future")
	}
	ch.Timestamp = ts.UTC()

	add := func(field, old, new string) {
		if old != new {
			ch.Fields = append(ch.Fields, FieldChange{Field: field, Old: old, New: new})
		}
	}
	if in.FirstName != nil {
		v, err := ValidateName(FieldFirstName, *in.FirstName)
		if err != nil {
			return ch, err
		}
		add(FieldFirstName, cur.FirstName, v)
	}
	if in.LastName != nil {
		v, err := ValidateName(FieldLastName, *in.LastName)
		if err != nil {
			return ch, err
		}
		add(FieldLastName, cur.LastName, v)
	}
	if in.MaritalStatus != nil {
		v := *in.MaritalStatus
		ok := false
		for _, s := range MaritalStatuses {
			ok = ok || s == v
		}
		if !ok {
			return ch, domain.E(domain.KindInvalid, "maritalStatus: must be one of %s", strings.Join(MaritalStatuses, ", "))
		}
		add(FieldMaritalStatus, cur.MaritalStatus, v)
	}
	if in.Description != nil {
		v, err := ValidateDescription(*in.Description)
		if err != nil {
			return ch, err
		}
		add(FieldDescription, cur.Description, v)
	}
	if in.UploadID != nil {
		if *in.UploadID == "" || len(*in.UploadID) > 64 {
			return ch, domain.E(domain.KindInvalid, "uploadId: must be 1–64 characters")
		}
		ch.UploadID = *in.UploadID
	}
	if len(ch.Fields) == 0 {
		return ch, domain.E(domain.KindInvalid, "no change: every given field equals the current profile")
	}
	return ch, nil
}

// ValidateName normalises (NFC, trimmed) and checks a first or last name:
// 1–100 characters of letters, combining marks, spaces, hyphens and apostrophes.
func ValidateName(field, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", domain.E(domain.KindInvalid, "%s: not valid UTF-8", field)
	}
	v := strings.TrimSpace(norm.NFC.String(s))
	n := utf8.RuneCountInString(v)
	if n == 0 {
		return "", domain.E(domain.KindInvalid, "%s: must not be empty", field)
	}
	if n > 100 {
		return "", domain.E(domain.KindInvalid, "%s: longer than 100 characters", field)
	}
	for _, r := range v {
		switch {
		case unicode.IsLetter(r), unicode.Is(unicode.M, r), r == ' ', r == '-', r == '\'', r == '’':
		default:
			return "", domain.E(domain.KindInvalid, "%s: character %q is not allowed (letters, spaces, hyphen and apostrophe only)", field, r)
		}
	}
	if strings.Contains(v, "  ") {
		return "", domain.E(domain.KindInvalid, "%s: repeated spaces", field)
	}
	return v, nil
}

// ValidateDescription checks the free-text description: at most 1000
// characters, no control characters except newline, stored as plain text.
func ValidateDescription(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", domain.E(domain.KindInvalid, "description: not valid UTF-8")
	}
	v := strings.TrimSpace(norm.NFC.String(s))
	if utf8.RuneCountInString(v) > 1000 {
		return "", domain.E(domain.KindInvalid, "description: longer than 1000 characters")
	}
	for _, r := range v {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r) && isBidiControl(r)) {
			return "", domain.E(domain.KindInvalid, "description: control character %U is not allowed", r)
		}
	}
	return v, nil
}

func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Apply returns p with the change applied (not the version or time).
func (c Change) Apply(p domain.Profile) domain.Profile {
	for _, f := range c.Fields {
		switch f.Field {
		case FieldFirstName:
			p.FirstName = f.New
		case FieldLastName:
			p.LastName = f.New
		case FieldMaritalStatus:
			p.MaritalStatus = f.New
		case FieldDescription:
			p.Description = f.New
		default:
			panic(fmt.Sprintf("request: unknown field %s", f.Field))
		}
	}
	return p
}

// Rebase recomputes the old values against cur and drops fields that no
// longer change; KindInvalid when nothing is left to change.
func (c Change) Rebase(cur domain.Profile) (Change, error) {
	var fields []FieldChange
	for _, f := range c.Fields {
		old := fieldValue(cur, f.Field)
		if old != f.New {
			fields = append(fields, FieldChange{Field: f.Field, Old: old, New: f.New})
		}
	}
	if len(fields) == 0 {
		return c, domain.E(domain.KindInvalid, "no change: every given field equals the current profile")
	}
	c.Fields = fields
	return c, nil
}

func fieldValue(p domain.Profile, field string) string {
	switch field {
	case FieldFirstName:
		return p.FirstName
	case FieldLastName:
		return p.LastName
	case FieldMaritalStatus:
		return p.MaritalStatus
	case FieldDescription:
		return p.Description
	}
	return ""
}
