package invoke

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"
)

// readAll reads every value of every typed payload, as functions would.
func readAll(r *Request, name string) {
	tm := r.Timer(name)
	tm.IsPastDue.Lookup()
	tm.AdjustForDST.Lookup()
	tm.Last.Lookup()
	tm.Next.Lookup()
	tm.LastUpdated.Lookup()
	b := r.Blob(name)
	b.Content.Lookup()
	b.URI.Lookup()
	b.Metadata.Lookup()
	b.Properties.ContentLength.Lookup()
	b.Properties.ContentType.Lookup()
	b.Properties.ContentHash.Lookup()
	b.Properties.LastModified.Lookup()
	b.Properties.CreatedOn.Lookup()
	for k := range r.Metadata {
		b.Token(k).Lookup()
	}
	m := r.ServiceBus(name)
	m.Body.Lookup()
	m.MessageID.Lookup()
	m.CorrelationID.Lookup()
	m.SessionID.Lookup()
	m.ContentType.Lookup()
	m.Subject.Lookup()
	m.LockToken.Lookup()
	m.DeliveryCount.Lookup()
	m.SequenceNumber.Lookup()
	m.EnqueuedTimeUTC.Lookup()
	m.ExpiresAtUTC.Lookup()
	m.ApplicationProperties.Lookup()
}

// FuzzDecode: no envelope makes a decoder panic, and every error is marked
// ErrBadRequest (so the server answers it as a malformed invocation).
func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte(`{"Data":{"x":"\"\\\"\""}}`))
	f.Add([]byte(`{"Data":{"timer":{"ScheduleStatus":null,"IsPastDue":"1"}}}`))
	f.Add([]byte(`{"Data":{"timer":{"ScheduleStatus":{"Last":"0001-01-01T00:00:00"}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeBytes(b)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error not marked bad request: %v", err)
			}
			return
		}
		check := func(err error) {
			if err != nil && !errors.Is(err, ErrBadRequest) {
				t.Fatalf("value error not marked bad request: %v", err)
			}
		}
		for k := range r.Metadata {
			_, _, err := r.MetaString(k)
			check(err)
			_, _, err = r.MetaInt(k)
			check(err)
			_, _, err = r.MetaTime(k)
			check(err)
			var v any
			_, err = r.MetaObject(k, &v)
			check(err)
		}
		readAll(r, "timer")
		for k := range r.Data {
			readAll(r, k)
			_, err := r.DataString(k)
			check(err)
			_, err = r.DataBytes(k)
			check(err)
			var hr HTTPRequest
			if r.DataJSON(k, &hr) == nil {
				hr.BodyBytes()
			}
		}
	})
}

// FuzzParseTime: whatever the input, a parsed time is UTC; a time written
// with an offset or without one (as the host's DateTime) reads back as the
// same instant.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"0001-01-01T00:00:00", "2024-06-15T12:34:56.1234567+02:00", "2024-06-15T12:34:56Z", "x"} {
		f.Add(s, int64(0))
	}
	f.Add("", int64(1718454896123456700))
	f.Fuzz(func(t *testing.T, s string, unixNano int64) {
		if got, err := ParseTime(s); err == nil && got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) not UTC: %v", s, got)
		}
		want := time.Unix(0, unixNano).UTC()
		for _, text := range []string{
			want.Format(time.RFC3339Nano),
			want.In(time.FixedZone("", -5*3600)).Format(time.RFC3339Nano),
			want.Format("2006-01-02T15:04:05.9999999"),
		} {
			got, err := ParseTime(text)
			if err != nil {
				t.Fatalf("ParseTime(%q): %v", text, err)
			}
			if d := got.Sub(want); d < -100 || d > 100 { // 7 fraction digits: 100 ns
				t.Fatalf("ParseTime(%q) = %v, want %v", text, got, want)
			}
		}
	})
}

// FuzzMetadataValues: a string or integer encoded twice, as the host does,
// decodes to itself; so does an integer encoded once or sent as a number.
func FuzzMetadataValues(f *testing.F) {
	f.Add("abc", int64(1))
	f.Add(`"quoted"`, int64(-42))
	f.Add("", int64(9223372036854775807))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		twice := func(v string) json.RawMessage {
			once, _ := json.Marshal(v)
			b, _ := json.Marshal(string(once))
			return b
		}
		if utf8.ValidString(s) {
			if got, err := decodeString(twice(s)); err != nil || got != s {
				t.Fatalf("string %q encoded twice → %q, %v", s, got, err)
			}
		}
		num := strconv.FormatInt(n, 10)
		for _, raw := range []json.RawMessage{twice(num), json.RawMessage(strconv.Quote(num)), json.RawMessage(num)} {
			if got, err := decodeInt(raw); err != nil || got != n {
				t.Fatalf("int %s → %d, %v", raw, got, err)
			}
		}
		// Arbitrary bytes never panic.
		decodeString(json.RawMessage(s))
		decodeInt(json.RawMessage(s))
		decodeBool(json.RawMessage(s))
		decodeTime(json.RawMessage(s))
	})
}

// FuzzBlobContent: binary content sent as base64 (dataType binary) and text
// content sent JSON-quoted (dataType string) both come back unchanged.
func FuzzBlobContent(f *testing.F) {
	f.Add([]byte("%PDF-1.7\n%%EOF\n"))
	f.Add([]byte(`"`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, content []byte) {
		b64, _ := json.Marshal(base64.StdEncoding.EncodeToString(content))
		if got, err := decodeBlobContent(b64); err != nil || !bytes.Equal(got, content) {
			t.Fatalf("binary %q → %q, %v", content, got, err)
		}
		if utf8.Valid(content) {
			once, _ := json.Marshal(string(content))
			twice, _ := json.Marshal(string(once))
			if got, err := decodeBlobContent(twice); err != nil || !bytes.Equal(got, content) {
				t.Fatalf("text %q → %q, %v", content, got, err)
			}
		}
		decodeBlobContent(content)
	})
}

// FuzzMessageBody: a body the host quotes twice comes back unchanged, and
// no raw value makes the decoder panic.
func FuzzMessageBody(f *testing.F) {
	f.Add(`{"requestId":"abc"}`)
	f.Add(`"`)
	f.Add(` `)
	f.Fuzz(func(t *testing.T, body string) {
		if utf8.ValidString(body) {
			once, _ := json.Marshal(body)
			twice, _ := json.Marshal(string(once))
			if got, err := decodeMessageBody(twice); err != nil || string(got) != body {
				t.Fatalf("body %q → %q, %v", body, got, err)
			}
		}
		if len(body) > 0 {
			decodeMessageBody(json.RawMessage(body))
		}
	})
}

// FuzzReadDroppingData: dropping Data's strings while reading never
// changes what decodeDropping makes of a body. A body the filter refuses
// is one encoding/json refuses too; otherwise both decode or both fail,
// with the same Metadata; and the filter never keeps more than it read.
func FuzzReadDroppingData(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	for _, s := range []string{
		`{"Data":{"document":"JVBERi0="},"Metadata":{"uploadId":"\"u1\""}}`,
		`{"data":{"a":"x\"y\\"},"DATA":"s","Metadata":{"k":"\"v\""}}`,
		`{"D\u0061ta":{"x":"y"},"Metadata":{"Data":"kept","x":["Data",{"Data":"kept"}]}}`,
		`{"Metadata":{"u":"v"},"Data":{"x":["a",{"b":"c\u00e9"}],"y":null}}`,
		`{"Data":{"x":"\u00zz"}}`,
		"{\"Data\":{\"x\":\"a\x01\"}}",
		`{"Data":{"x":"\q"}}`,
		`[{"Data":"a"},"Data","b"]`,
		`{"Data":{}} {"Metadata":{}}`,
		`{"Data":{"x":"unterminated`,
		`}{"Data":"x"`,
		`{"Data" : "x" , "Metadata" : { "a" : "b" } }`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := decodeDropping(b)
		filtered, ferr := readDroppingData(bytes.NewReader(b), MaxBody)
		if ferr != nil {
			if !errors.Is(ferr, ErrBadRequest) {
				t.Fatalf("filter error not marked bad request: %v", ferr)
			}
			if werr == nil {
				t.Fatalf("filter refused %q (%v); encoding/json decodes it", b, ferr)
			}
			return
		}
		if len(filtered) > len(b) {
			t.Fatalf("filter kept %d bytes of %d", len(filtered), len(b))
		}
		got, gerr := decodeDropping(filtered)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: unfiltered %v, filtered %q: %v", b, werr, filtered, gerr)
		}
		if werr == nil && !reflect.DeepEqual(want.Metadata, got.Metadata) {
			t.Fatalf("%q: Metadata %v, filtered %v", b, want.Metadata, got.Metadata)
		}
	})
}
