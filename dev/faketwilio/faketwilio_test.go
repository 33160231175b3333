package faketwilio_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

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
