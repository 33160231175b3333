package stack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The stand-in's test hook over the wire: the next N matching requests
// answer the injected status with Azure's error body and headers, other
// paths and the hook itself are not faulted, and bad settings are refused.
func TestCosmosInjectFaults(t *testing.T) {
	c := CosmosT(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	get := func(path string) (*http.Response, map[string]string) {
		t.Helper()
		resp, err := http.Get(c.Endpoint + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var body map[string]string
		_ = json.Unmarshal(raw, &body)
		return resp, body
	}

	if err := c.InjectFaults(ctx, Fault{Status: 429, Count: 2, RetryAfter: 250 * time.Millisecond, Match: "/colls/hot"}); err != nil {
		t.Fatal(err)
	}
	// Another path is served as usual (the database does not exist: 404).
	if resp, _ := get("dbs/nodb/colls/cold/docs/x"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unmatched path answered %d, want the server's 404", resp.StatusCode)
	}
	for i := range 2 {
		resp, body := get("dbs/db/colls/hot/docs/x")
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("faulted request %d answered %d, want 429", i+1, resp.StatusCode)
		}
		if v := resp.Header.Get("x-ms-retry-after-ms"); v != "250" {
			t.Errorf("x-ms-retry-after-ms = %q, want 250", v)
		}
		if v := resp.Header.Get("x-ms-substatus"); v != "3200" {
			t.Errorf("x-ms-substatus = %q, want 3200 (RU budget exceeded)", v)
		}
		if body["code"] != "TooManyRequests" || !strings.Contains(body["message"], "Request rate is large") {
			t.Errorf("body %v, want Azure's 429 error", body)
		}
	}
	if resp, _ := get("dbs/db/colls/hot/docs/x"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("after the faults: %d, want the server's 404", resp.StatusCode)
	}
	st, err := c.Faults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st != (FaultState{Status: 429, Remaining: 0, Served: 2}) {
		t.Errorf("state %+v, want 429 served 2 remaining 0", st)
	}

	if err := c.InjectFaults(ctx, Fault{Status: 503, Count: 5}); err != nil {
		t.Fatal(err)
	}
	if resp, body := get("dbs/db/colls/any/docs/x"); resp.StatusCode != http.StatusServiceUnavailable || body["code"] != "ServiceUnavailable" {
		t.Errorf("503 fault: %d %v", resp.StatusCode, body)
	}
	if err := c.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Faults(ctx); st.Remaining != 0 || st.Served != 1 {
		t.Errorf("after ClearFaults: %+v, want remaining 0 served 1", st)
	}

	// A method filter faults only that method (here the replace's PUT).
	if err := c.InjectFaults(ctx, Fault{Status: 412, Count: 1, Match: "/colls/m/", Method: http.MethodPut}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get("dbs/db/colls/m/docs/x"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET under a PUT fault: %d, want the server's 404", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodPut, c.Endpoint+"dbs/db/colls/m/docs/x", strings.NewReader("{}"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPreconditionFailed || !strings.Contains(string(raw), "PreconditionFailed") {
		t.Errorf("PUT under a PUT fault: %d %s, want Azure's 412", resp.StatusCode, raw)
	}

	for _, bad := range []Fault{{Status: 200, Count: 1}, {Status: 429, Count: -1}, {Status: 99, Count: 1}, {Status: 412, Count: 1, Method: "put"}} {
		if err := c.InjectFaults(ctx, bad); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("InjectFaults(%+v) = %v, want a 400 refusal", bad, err)
		}
	}
}
