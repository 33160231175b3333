package faketwilio_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/profileflow/profileflow/dev/faketwilio"
	"github.com/profileflow/profileflow/dev/outbox"
)

func post(t *testing.T, h http.Handler, path string, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%s: body %q is not JSON", path, rec.Body.String())
	}
	return rec.Code, body
}

func TestWireFormat(t *testing.T) {
	box := &outbox.Box{}
	f := faketwilio.New("", "", "", box)
	ac, tok, va := f.AccountSID, f.AuthToken, f.ServiceSID
	verifications := "/v2/Services/" + va + "/Verifications"
	check := "/v2/Services/" + va + "/VerificationCheck"
	for _, tc := range []struct {
		name       string
		path       string
		form       url.Values
		user, pass string
		status     int
		code       float64
	}{
		{"no auth", verifications, url.Values{"To": {"+15555551000"}, "Channel": {"sms"}}, "", "", 401, 20003},
		{"wrong token", verifications, url.Values{"To": {"+15555551000"}, "Channel": {"sms"}}, ac, "nope", 401, 20003},
		{"unknown service", "/v2/Services/VAxx/Verifications", url.Values{"To": {"+15555551000"}, "Channel": {"sms"}}, ac, tok, 404, 20404},
		{"bad To", verifications, url.Values{"To": {"555"}, "Channel": {"sms"}}, ac, tok, 400, 60200},
		{"no To", verifications, url.Values{"Channel": {"sms"}}, ac, tok, 400, 60200},
		{"check without code", check, url.Values{"To": {"+15555551000"}}, ac, tok, 400, 60200},
		{"check unknown", check, url.Values{"VerificationSid": {"VEnope"}, "Code": {"123456"}}, ac, tok, 404, 20404},
		{"message without body", "/2010-04-01/Accounts/" + ac + "/Messages.json", url.Values{"To": {"+15555551000"}, "From": {"+15550000000"}}, ac, tok, 400, 21602},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(t, f, tc.path, tc.form, tc.user, tc.pass)
			if status != tc.status || body["code"] != tc.code || body["status"] != float64(tc.status) ||
				body["message"] == "" || !strings.HasPrefix(body["more_info"].(string), "https://www.twilio.com/docs/errors/") {
				t.Errorf("got %d %v", status, body)
			}
		})
	}
	status, v := post(t, f, verifications, url.Values{"To": {"+15555551000"}, "Channel": {"sms"}}, ac, tok)
	if status != 201 || v["status"] != "pending" || v["to"] != "+15555551000" || v["service_sid"] != va {
		t.Fatalf("start: %d %v", status, v)
	}
	msgs := box.List("+15555551000")
	if len(msgs) != 1 || len(faketwilio.PIN(msgs[0].Body)) != 6 {
		t.Fatalf("outbox = %v", msgs)
	}
	status, v = post(t, f, check, url.Values{"To": {"+15555551000"}, "Code": {faketwilio.PIN(msgs[0].Body)}}, ac, tok)
	if status != 200 || v["status"] != "approved" || v["valid"] != true {
		t.Fatalf("check: %d %v", status, v)
	}
	status, m := post(t, f, "/2010-04-01/Accounts/"+ac+"/Messages.json", url.Values{"To": {"+15555551000"}, "From": {"+15550000000"}, "Body": {"hi"}}, ac, tok)
	if status != 201 || m["status"] != "queued" || !strings.HasPrefix(m["sid"].(string), "SM") {
		t.Fatalf("message: %d %v", status, m)
	}
}

// The Messages list pages like Twilio's: most recent first, next_page_uri
// until the last page, filtered by To and DateSent; a bad filter is 400.
func TestListMessagesPages(t *testing.T) {
	f := faketwilio.New("", "", "", &outbox.Box{})
	msgs := "/2010-04-01/Accounts/" + f.AccountSID + "/Messages.json"
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i := range 5 {
		f.Now = func() time.Time { return t0.Add(time.Duration(i) * time.Minute) }
		if code, body := post(t, f, msgs, url.Values{"To": {"+15555551000"}, "From": {"+15550000000"}, "Body": {fmt.Sprint("m", i)}}, f.AccountSID, f.AuthToken); code != 201 || body["status"] != "queued" {
			t.Fatalf("send: %d %v", code, body)
		}
	}
	get := func(uri string) (int, map[string]any) {
		req := httptest.NewRequest("GET", uri, nil)
		req.SetBasicAuth(f.AccountSID, f.AuthToken)
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, req)
		var body map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		return rec.Code, body
	}
	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"all, two per page", url.Values{"To": {"+15555551000"}, "PageSize": {"2"}}, []string{"m4", "m3", "m2", "m1", "m0"}},
		{"after", url.Values{"DateSent>": {t0.Add(3 * time.Minute).Format(time.RFC3339)}}, []string{"m4", "m3"}},
		{"before", url.Values{"DateSent<": {t0.Add(time.Minute).Format(time.RFC3339)}}, []string{"m1", "m0"}},
		{"the day", url.Values{"DateSent": {"2026-11-30"}, "PageSize": {"3"}}, []string{"m4", "m3", "m2", "m1", "m0"}},
		{"another day", url.Values{"DateSent": {"2026-12-01"}}, nil},
		{"another number", url.Values{"To": {"+15555551001"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			uri := msgs + "?" + tc.query.Encode()
			for pages := 0; uri != ""; pages++ {
				if pages > 5 {
					t.Fatal("paging does not end")
				}
				code, body := get(uri)
				if code != 200 {
					t.Fatalf("%s: %d %v", uri, code, body)
				}
				for _, m := range body["messages"].([]any) {
					m := m.(map[string]any)
					if m["status"] != "sent" || m["date_sent"] == nil {
						t.Errorf("listed message %v", m)
					}
					got = append(got, m["body"].(string))
				}
				uri, _ = body["next_page_uri"].(string)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("listed %q, want %q", got, tc.want)
			}
		})
	}
	if code, body := get(msgs + "?DateSent%3E=yesterday"); code != 400 || body["code"] != float64(20001) {
		t.Fatalf("bad date: %d %v", code, body)
	}
}
