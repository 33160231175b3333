//go:build soak

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"

	"github.com/profileflow/profileflow/dev/artifact"
	"github.com/profileflow/profileflow/dev/faketwilio"
	"github.com/profileflow/profileflow/dev/local"
	"github.com/profileflow/profileflow/dev/proc"
	"github.com/profileflow/profileflow/dev/stack"
	"github.com/profileflow/profileflow/dev/testlog"
	"github.com/profileflow/profileflow/handler/domain"
	"github.com/profileflow/profileflow/handler/servicebus"
	"github.com/profileflow/profileflow/handler/uploadclient"
)

// The soak: SOAK_REQUESTS (default 1,000) profile changes in the source
// design's mix — 20 % description-only (applied at once, 200), 80 % waiting
// for approval with one small PDF (first name or marital status: one
// approval; last name: two by different approvers) — through the whole
// local stack on a system of its own: the HTTP API of the development host,
// uploads through the SAS plan (uploadclient), scans by clamd, steps and
// notices through the Service Bus peer, SMS to the fake Twilio API.
// Approvers decide by script from their inboxes (approve most, reject some
// with a comment, send a few back; the requester answers those with a
// PATCH naming the request, or leaves some unanswered). Meanwhile the
// handler is killed (SIGKILL) and restarted at random intervals, and copies
// of queue messages (steps, due timers, notices) are sent again under other
// MessageIds, so duplicate detection does not drop them.
//
// Afterwards it asserts: every request is terminal or says what it waits
// for; every accepted PATCH has its record; applied changes raised the
// profile's version to exactly 2, all others left it at 1; every SMS of a
// request's notice was sent at most once (and every outcome once). It logs
// a report: counts by outcome, the sustained rate, p50/p99 submit-to-
// terminal times, kills, duplicates injected.
//
// Settings (environment): SOAK_REQUESTS (1000), SOAK_INFLIGHT requests in
// flight (12), SOAK_SEED (1), SOAK_KILL_EVERY mean seconds between kills
// (15; 0 = no kills), SOAK_LOG a file for the handler's and the
// development host's logs. `make soak` runs it; `make soak SOAK_REQUESTS=100`
// is the short variant.
func TestSoak(t *testing.T) {
	cfg := soakConfig{N: envInt(t, "SOAK_REQUESTS", 1000), Inflight: envInt(t, "SOAK_INFLIGHT", 12),
		Seed: uint64(envInt(t, "SOAK_SEED", 1)), KillEvery: time.Duration(envInt(t, "SOAK_KILL_EVERY", 15)) * time.Second}
	s := startSoakSystem(t)
	k := newSoak(t, s, cfg)
	k.run(t)
}

type soakConfig struct {
	N, Inflight int
	Seed        uint64
	KillEvery   time.Duration
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: want a whole number ≥ 0", name, v)
	}
	return n
}

// startSoakSystem starts a local system of the soak's own (its handler is
// killed): queues with 10-second locks, so a message the killed handler
// held returns soon, as in Azure; workflow timers scaled by 0.0005 (the
// 24 h reminder after 43 s, the 72 h escalation after 130 s, the 7-day
// send-back expiry after 302 s), so some fire during the run.
func startSoakSystem(t *testing.T) *local.System {
	root, err := stack.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	app := filepath.Join(dir, "app")
	if err := artifact.Build(root, app, ""); err != nil {
		t.Fatal(err)
	}
	topo := filepath.Join(dir, "topology.json")
	if err := os.WriteFile(topo, []byte(`{"queues": {
	  "workflow": {"lockDuration": "PT10S", "maxDeliveryCount": 10, "requiresDuplicateDetection": true, "duplicateDetectionHistoryTimeWindow": "PT10M"},
	  "notifications": {"lockDuration": "PT10S", "maxDeliveryCount": 10, "requiresDuplicateDetection": true, "duplicateDetectionHistoryTimeWindow": "PT10M"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out testlog.Buffer
	var handlerOut, hostLog io.Writer = &out, io.Discard
	if path := os.Getenv("SOAK_LOG"); path != "" {
		// The handler's and the development host's logs, for a look at
		// what a slow request met.
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		handlerOut, hostLog = io.MultiWriter(&out, f), f
	}
	s, err := local.Start(ctx, local.Options{AppDir: app, LogDir: filepath.Join(dir, "logs"), HandlerOutput: handlerOut,
		ServiceBusTopology: topo, RequireAntivirus: true, Logger: slog.New(slog.NewJSONHandler(hostLog, nil)),
		Settings: map[string]string{"MFA_MAX_SENDS_PER_HOUR": "100", "WORKFLOW_TIMER_SCALE": "0.0005"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("E2E_SHOW_HANDLER_LOG") != "" {
			fmt.Fprintln(os.Stderr, out.String())
		}
		if err := s.Close(); err != nil {
			t.Log("stop:", err)
		}
	})
	return s
}

// plan is what the script does with one request.
type plan struct {
	direct  bool
	field   string // firstName | maritalStatus | lastName | description
	value   string // the requested value
	answer  string // the value of the send-back answer
	outcome string // approve | reject | sendBack
	level   int    // the approval level (1 or 2) that rejects or sends back
	answers bool   // a send-back is answered (else left waiting)
}

// req is one request of the soak and what was observed of it.
type req struct {
	i       int
	p       plan
	profile string
	owner   string
	phone   string
	tok     string

	mu         sync.Mutex
	rid        string
	orphan     string // a request of this profile the PATCH's lost answer never named (found in an inbox)
	submitted  time.Time
	accepted   time.Time // the PATCH answered 200/202
	terminal   time.Time
	final      string // runtimeStatus last seen
	stage      string
	sentBack   bool // an approver sent it back (200)
	answered   bool // the requester answered (202)
	err        string
	waitingFor []any
}

type soak struct {
	s   *local.System
	cfg soakConfig
	hc  *http.Client
	pdf []byte

	reqs      []*req
	byRID     sync.Map // rid → *req
	byProfile map[string]*req

	stop       chan struct{}
	kills      atomic.Int64
	dupActive  atomic.Int64 // copies of active workflow messages
	dupTimers  atomic.Int64 // copies of due timer messages
	dupNotices atomic.Int64 // copies of notices
	decisions  sync.Map     // "action status" → *atomic.Int64
	replays    atomic.Int64 // idempotent repeats of a decision (same taskId)
	badReplays atomic.Int64
	retries    atomic.Int64 // HTTP calls retried (502/503/transport errors)
}

func newSoak(t *testing.T, s *local.System, cfg soakConfig) *soak {
	k := &soak{s: s, cfg: cfg, stop: make(chan struct{}), pdf: pdfDoc("soak"), byProfile: map[string]*req{},
		hc: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	rng := rand.New(rand.NewPCG(cfg.Seed, 7))
	ctx := context.Background()
	statuses := []string{"Married", "Divorced", "Widowed", "Separated", "DomesticPartnership"}
	for i := range cfg.N {
		n := 500000 + i
		r := &req{i: i, profile: strconv.Itoa(n), owner: fmt.Sprintf("soak-user-%d", n), phone: fmt.Sprintf("+1555%07d", 3000000+i)}
		p := plan{outcome: "approve", level: 1}
		switch x := rng.IntN(100); {
		case x < 20:
			p.direct, p.field, p.value = true, "description", fmt.Sprintf("soak note %d", i)
		case x < 48:
			p.field, p.value, p.answer = "firstName", "Augusta", "Augusta Ada"
		case x < 64:
			p.field, p.value, p.answer = "maritalStatus", statuses[rng.IntN(len(statuses))], "Married"
			if p.value == "Married" {
				p.answer = "Divorced"
			}
		default:
			p.field, p.value, p.answer = "lastName", "Byron", "King"
		}
		if !p.direct {
			switch x := rng.IntN(100); {
			case x < 10:
				p.outcome = "reject"
			case x < 20:
				p.outcome, p.answers = "sendBack", rng.IntN(5) != 0
			}
			if p.field == "lastName" && p.outcome != "approve" {
				p.level = 1 + rng.IntN(2)
			}
		}
		r.p = p
		k.byProfile[r.profile] = r
		if _, err := s.Profiles.CreateProfile(ctx, domain.Profile{ID: r.profile, Owner: r.owner, FirstName: "Ada", LastName: "Lovelace",
			MaritalStatus: "Single", Description: "soak", Phone: r.phone, Version: 1, UpdatedAt: time.Now().UTC().Truncate(time.Second)}); err != nil {
			t.Fatal(err)
		}
		tok, err := s.Token(r.owner, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.tok = tok
		k.reqs = append(k.reqs, r)
	}
	return k
}

// ---- HTTP with retries ----

// answer is one HTTP answer.
type answer struct {
	status int
	hdr    http.Header
	body   map[string]any
}

// do sends a request; it retries transport errors, 502/503/504 (the
// handler is down or restarting) and 429 (honouring Retry-After, at most
// 5 s) for up to 3 minutes, and 409 "still being processed" of an
// Idempotency-Key the same way.
func (k *soak) do(method, path, tok string, body []byte, hdr map[string]string) (answer, error) {
	deadline := time.Now().Add(3 * time.Minute)
	for attempt := 0; ; attempt++ {
		a, err := k.once(method, path, tok, body, hdr)
		retry := err != nil || a.status == 502 || a.status == 503 || a.status == 504 || a.status == 429 ||
			(a.status == 409 && strings.Contains(fmt.Sprint(a.body["error"]), "still being processed"))
		if !retry {
			return a, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%s %s: %d %v after %d attempts", method, path, a.status, a.body, attempt+1)
			}
			return a, err
		}
		k.retries.Add(1)
		wait := 250 * time.Millisecond * time.Duration(min(attempt+1, 8))
		if a.hdr != nil {
			if s, e := strconv.Atoi(a.hdr.Get("Retry-After")); e == nil && s > 0 {
				wait = min(time.Duration(s)*time.Second, 5*time.Second)
			}
		}
		time.Sleep(wait)
	}
}

func (k *soak) once(method, path, tok string, body []byte, hdr map[string]string) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequest(method, k.s.URL+path, rd)
	if err != nil {
		return answer{}, err
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Authorization", "Bearer "+tok)
	for h, v := range hdr {
		hr.Header.Set(h, v)
	}
	resp, err := k.hc.Do(hr)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode, hdr: resp.Header}
	_ = json.Unmarshal(raw, &a.body)
	if a.body == nil {
		a.body = map[string]any{"_raw": string(raw)}
	}
	return a, nil
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// mfaToken runs the SMS PIN exchange; a lost answer (the handler died)
// starts it again with a new challenge.
func (k *soak) mfaToken(r *req) (string, error) {
	var last error
	for range 6 {
		a, err := k.do("POST", "/api/v1/mfa/challenge", r.tok, jsonBody(map[string]string{"profileId": r.profile}), nil)
		if err != nil || a.status != 202 {
			last = fmt.Errorf("challenge: %d %v %v", a.status, a.body, err)
			continue
		}
		msgs := k.s.Outbox.List(r.phone)
		if len(msgs) == 0 {
			return "", fmt.Errorf("no PIN sent to %s", r.phone)
		}
		a, err = k.do("POST", "/api/v1/mfa/verify", r.tok, jsonBody(map[string]string{"challengeId": a.body["challengeId"].(string), "code": faketwilio.PIN(msgs[len(msgs)-1].Body)}), nil)
		if err == nil && a.status == 200 {
			return a.body["mfaToken"].(string), nil
		}
		last = fmt.Errorf("verify: %d %v %v", a.status, a.body, err)
	}
	return "", last
}

// upload starts an upload (retried) and writes the PDF through the SAS plan.
func (k *soak) upload(r *req, name string) (string, error) {
	var last error
	for range 6 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		api := uploadclient.API{BaseURL: k.s.URL, Token: r.tok}
		plan, err := api.Start(ctx, r.profile, []uploadclient.FileSpec{{Name: name, ContentType: "application/pdf", Size: int64(len(k.pdf))}})
		if err == nil {
			var cl uploadclient.Client
			err = cl.Upload(ctx, plan.Files[0], bytes.NewReader(k.pdf), nil)
		}
		cancel()
		if err == nil {
			return plan.UploadID, nil
		}
		last = err
		time.Sleep(time.Second)
	}
	return "", fmt.Errorf("upload: %w", last)
}

// ---- the requester ----

func (k *soak) request(r *req) {
	if err := k.requestErr(r); err != nil {
		r.mu.Lock()
		r.err = err.Error()
		r.mu.Unlock()
	}
}

func (k *soak) requestErr(r *req) error {
	mfa, err := k.mfaToken(r)
	if err != nil {
		return err
	}
	fields := map[string]any{r.p.field: r.p.value, "timestamp": time.Now().UTC().Format(time.RFC3339)}
	if !r.p.direct {
		if fields["uploadId"], err = k.upload(r, "evidence.pdf"); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.submitted = time.Now()
	r.mu.Unlock()
	a, err := k.do("PATCH", "/api/v1/profile/"+r.profile, r.tok, jsonBody(fields), map[string]string{"X-MFA-Token": mfa, "Idempotency-Key": fmt.Sprintf("soak-%d-submit", r.i)})
	want := 202
	if r.p.direct {
		want = 200
	}
	if err != nil || a.status != want {
		return fmt.Errorf("PATCH: %d %v %v", a.status, a.body, err)
	}
	rid := strings.TrimPrefix(fmt.Sprint(a.body["request"]), "/api/v1/requests/")
	r.mu.Lock()
	r.rid, r.accepted = rid, time.Now()
	r.mu.Unlock()
	k.byRID.Store(rid, r)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		a, err := k.do("GET", "/api/v1/requests/"+rid+"?showHistory=false&showInput=false", r.tok, nil, nil)
		if err != nil {
			return err
		}
		if a.status != 200 && a.status != 202 {
			return fmt.Errorf("status: %d %v", a.status, a.body)
		}
		st := fmt.Sprint(a.body["runtimeStatus"])
		cs, _ := a.body["customStatus"].(map[string]any)
		r.mu.Lock()
		r.final, r.stage = st, fmt.Sprint(cs["stage"])
		r.waitingFor, _ = cs["waitingFor"].([]any)
		answered := r.answered
		r.mu.Unlock()
		if st == "Completed" || st == "Failed" || st == "Terminated" {
			r.mu.Lock()
			r.terminal = time.Now()
			r.mu.Unlock()
			return nil
		}
		if r.stage == "sentBack" && !answered {
			if !r.p.answers {
				return nil // left waiting for the requester
			}
			if err := k.answer(r); err != nil {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not terminal after 10 minutes: %s %s", st, r.stage)
		}
		time.Sleep(400 * time.Millisecond)
	}
}

// answer answers a send-back: a fresh MFA token, a new document, the
// answer's value, the request named.
func (k *soak) answer(r *req) error {
	mfa, err := k.mfaToken(r)
	if err != nil {
		return err
	}
	up, err := k.upload(r, "evidence-complete.pdf")
	if err != nil {
		return err
	}
	body := jsonBody(map[string]any{r.p.field: r.p.answer, "timestamp": time.Now().UTC().Format(time.RFC3339), "uploadId": up, "answerTo": r.rid})
	a, err := k.do("PATCH", "/api/v1/profile/"+r.profile, r.tok, body, map[string]string{"X-MFA-Token": mfa, "Idempotency-Key": fmt.Sprintf("soak-%d-answer", r.i)})
	if err != nil || a.status != 202 {
		return fmt.Errorf("answer: %d %v %v", a.status, a.body, err)
	}
	r.mu.Lock()
	r.answered = true
	r.mu.Unlock()
	return nil
}

// ---- the approvers ----

type approverBot struct {
	name, group string
	idx, of     int
	tok         string
}

func (k *soak) count(key string) {
	v, _ := k.decisions.LoadOrStore(key, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// approve polls the inbox of b and decides what the plans say: the task
// of the request's level rejects or sends back, every other approves. Each
// approver takes the tasks hashed to it, and any task older than 5 s, so
// some tasks meet two deciders (one 200, one 409).
func (k *soak) approve(b approverBot, rng *rand.Rand) {
	for {
		select {
		case <-k.stop:
			return
		default:
		}
		next := "/api/v1/approvals?pageSize=50"
		decided := 0
		for next != "" {
			a, err := k.do("GET", next, b.tok, nil, nil)
			if err != nil || a.status != 200 {
				k.count(fmt.Sprintf("inbox %d", a.status))
				break
			}
			items, _ := a.body["items"].([]any)
			for _, it := range items {
				m := it.(map[string]any)
				v, ok := k.byRID.Load(m["requestId"])
				if !ok {
					// A request whose PATCH answer was lost (the handler
					// died after accepting it) and that its retry could
					// not name: adopted by its profile, then approved.
					r := k.byProfile[fmt.Sprint(m["profileId"])]
					if r == nil {
						continue
					}
					r.mu.Lock()
					adopt := r.rid == "" && r.err != ""
					if adopt {
						r.orphan = fmt.Sprint(m["requestId"])
					}
					r.mu.Unlock()
					if !adopt {
						continue
					}
					v, _ = k.byRID.LoadOrStore(m["requestId"], r)
				}
				h := fnv.New32a()
				h.Write([]byte(fmt.Sprint(m["taskId"])))
				age, _ := m["ageSeconds"].(float64)
				if int(h.Sum32())%b.of != b.idx && age < 5 {
					continue
				}
				k.decide(b, v.(*req), m, rng)
				decided++
			}
			next = ""
			if c, _ := a.body["continuationToken"].(string); c != "" {
				next = "/api/v1/approvals?pageSize=50&continuationToken=" + c
			}
		}
		if decided == 0 {
			time.Sleep(300 * time.Millisecond)
		}
	}
}

func (k *soak) decide(b approverBot, r *req, item map[string]any, rng *rand.Rand) {
	task, _ := item["task"].(string)
	level := 1
	if strings.Contains(task, "2") {
		level = 2
	}
	r.mu.Lock()
	sentBack, answered := r.sentBack, r.answered
	r.mu.Unlock()
	action, body := "approve", map[string]string{"comment": "looks right", "taskId": fmt.Sprint(item["taskId"])}
	r.mu.Lock()
	orphan := r.orphan != ""
	r.mu.Unlock()
	switch {
	case orphan:
	case r.p.outcome == "reject" && level == r.p.level:
		action, body["comment"] = "reject", "the document does not show the new value"
	case r.p.outcome == "sendBack" && level == r.p.level && !sentBack:
		action, body["comment"] = "send-back", "page 2 is missing"
	case r.p.outcome == "sendBack" && sentBack && !answered:
		return // the request waits for the requester
	}
	a, err := k.do("POST", "/api/v1/requests/"+fmt.Sprint(item["requestId"])+"/"+action, b.tok, jsonBody(body), nil)
	if err != nil {
		k.count(action + " error")
		return
	}
	k.count(fmt.Sprintf("%s %d", action, a.status))
	if a.status != 200 {
		return
	}
	if action == "send-back" {
		r.mu.Lock()
		r.sentBack = true
		r.mu.Unlock()
	}
	// Some decisions are sent again with the same taskId (a client retry):
	// 200 again, no second effect.
	if rng.IntN(10) == 0 {
		k.replays.Add(1)
		if a2, err := k.do("POST", "/api/v1/requests/"+fmt.Sprint(item["requestId"])+"/"+action, b.tok, jsonBody(body), nil); err != nil || a2.status != 200 {
			k.badReplays.Add(1)
		}
	}
}

// ---- faults ----

// killer SIGKILLs the handler at random intervals (uniform in 0.5–1.5 ×
// KillEvery) and restarts the development host.
func (k *soak) killer(t *testing.T, rng *rand.Rand, done chan<- struct{}) {
	defer close(done)
	if k.cfg.KillEvery == 0 {
		return
	}
	for {
		d := k.cfg.KillEvery/2 + time.Duration(rng.Int64N(int64(k.cfg.KillEvery)))
		select {
		case <-k.stop:
			return
		case <-time.After(d):
		}
		pid := k.s.Host.HandlerPID()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Errorf("kill %d: %v", pid, err)
			return
		}
		for proc.Alive(pid) {
			time.Sleep(20 * time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err := k.s.RestartHost(ctx)
		cancel()
		if err != nil {
			t.Errorf("restart after kill %d: %v", k.kills.Load()+1, err)
			return
		}
		k.kills.Add(1)
	}
}

// duplicator peeks both queues every 100 ms and sends copies of what it
// sees under another MessageId: half of the active messages at once, half
// of the scheduled timers once they are due (a copy of a timer that was
// withdrawn arrives late). Copies are not copied again.
func (k *soak) duplicator(t *testing.T, rng *rand.Rand, done chan<- struct{}) {
	defer close(done)
	az, err := azservicebus.NewClientFromConnectionString(k.s.ServiceBus.ConnectionString(), nil)
	if err != nil {
		t.Error(err)
		return
	}
	ctx := context.Background()
	defer az.Close(ctx)
	type queue struct {
		name string
		recv *azservicebus.Receiver
		send *azservicebus.Sender
		from int64
		n    *atomic.Int64
	}
	var qs []*queue
	for _, q := range []struct {
		name string
		n    *atomic.Int64
	}{{servicebus.WorkflowQueue, &k.dupActive}, {servicebus.NotificationsQueue, &k.dupNotices}} {
		recv, err := az.NewReceiverForQueue(q.name, nil)
		if err != nil {
			t.Error(err)
			return
		}
		send, err := az.NewSender(q.name, nil)
		if err != nil {
			t.Error(err)
			return
		}
		qs = append(qs, &queue{name: q.name, recv: recv, send: send, n: q.n})
	}
	type due struct {
		at time.Time
		m  *azservicebus.ReceivedMessage
	}
	var timers []due
	copyOf := func(q *queue, m *azservicebus.ReceivedMessage) error {
		id := "dup-" + m.MessageID
		c := &azservicebus.Message{Body: m.Body, MessageID: &id, CorrelationID: m.CorrelationID, Subject: m.Subject,
			ContentType: m.ContentType, ApplicationProperties: m.ApplicationProperties}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return q.send.SendMessage(cctx, c, nil)
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-tick.C:
		}
		for _, q := range qs {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			from := q.from
			ms, err := q.recv.PeekMessages(pctx, 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
			cancel()
			if err != nil {
				continue
			}
			for _, m := range ms {
				q.from = max(q.from, *m.SequenceNumber+1)
				if strings.HasPrefix(m.MessageID, "dup-") || rng.IntN(2) == 0 {
					continue
				}
				if m.State == azservicebus.MessageStateScheduled && m.ScheduledEnqueueTime != nil {
					timers = append(timers, due{at: m.ScheduledEnqueueTime.Add(time.Duration(rng.IntN(3000)) * time.Millisecond), m: m})
					continue
				}
				if copyOf(q, m) == nil {
					q.n.Add(1)
				}
			}
		}
		now := time.Now()
		kept := timers[:0]
		for _, d := range timers {
			if d.at.After(now) {
				kept = append(kept, d)
				continue
			}
			if copyOf(qs[0], d.m) == nil {
				k.dupTimers.Add(1)
			}
		}
		timers = kept
	}
}

// ---- the run ----

func (k *soak) run(t *testing.T) {
	rng := rand.New(rand.NewPCG(k.cfg.Seed, 11))
	var bots []approverBot
	for i := range 4 {
		bots = append(bots, approverBot{name: fmt.Sprintf("soak-approver-%d", i+1), group: "ProfileApprover", idx: i, of: 4})
	}
	bots = append(bots, approverBot{name: "soak-supervisor-1", group: "ProfileSupervisor", idx: 0, of: 1})
	var wg sync.WaitGroup
	for _, b := range bots {
		tok, err := k.s.Token(b.name, []string{"ProfileApprover"}, []string{b.group})
		if err != nil {
			t.Fatal(err)
		}
		b.tok = tok
		seed := rng.Uint64()
		wg.Go(func() { k.approve(b, rand.New(rand.NewPCG(seed, 1))) })
	}
	killed, duplicated := make(chan struct{}), make(chan struct{})
	ks, ds := rng.Uint64(), rng.Uint64()
	go k.killer(t, rand.New(rand.NewPCG(ks, 2)), killed)
	go k.duplicator(t, rand.New(rand.NewPCG(ds, 3)), duplicated)

	start := time.Now()
	sem := make(chan struct{}, k.cfg.Inflight)
	var reqs sync.WaitGroup
	for _, r := range k.reqs {
		sem <- struct{}{}
		reqs.Go(func() {
			defer func() { <-sem }()
			k.request(r)
		})
		if (r.i+1)%100 == 0 {
			t.Logf("%d requests started after %s (%d kills)", r.i+1, time.Since(start).Round(time.Second), k.kills.Load())
		}
	}
	reqs.Wait()
	driven := time.Since(start)
	close(k.stop)
	wg.Wait()
	<-killed
	<-duplicated
	t.Logf("all requests ended or wait after %s; settling", driven.Round(time.Second))
	k.settle(t)
	k.check(t, driven)
}

// settle waits until the queues hold no active message and no SMS arrived
// for 5 s (at most 3 minutes), running the Sweep timer's function once on
// the way as its schedule would, so effects left in an outbox by a kill are
// finished.
func (k *soak) settle(t *testing.T) {
	az, err := azservicebus.NewClientFromConnectionString(k.s.ServiceBus.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer az.Close(context.Background())
	active := func(q string) int {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		r, err := az.NewReceiverForQueue(q, nil)
		if err != nil {
			return -1
		}
		defer r.Close(ctx)
		n := 0
		var from int64
		for {
			ms, err := r.PeekMessages(ctx, 100, &azservicebus.PeekMessagesOptions{FromSequenceNumber: &from})
			if err != nil {
				return -1
			}
			for _, m := range ms {
				if m.State != azservicebus.MessageStateScheduled {
					n++
				}
				from = *m.SequenceNumber + 1
			}
			if len(ms) < 100 {
				return n
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if err := k.s.Host.InvokeTimer(ctx, "Sweep"); err != nil {
		t.Errorf("Sweep: %v", err)
	}
	cancel()
	deadline := time.Now().Add(3 * time.Minute)
	quietSince, last := time.Now(), len(k.s.Outbox.List(""))
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		if n := len(k.s.Outbox.List("")); n != last {
			quietSince, last = time.Now(), n
		}
		if time.Since(quietSince) > 5*time.Second && active(servicebus.WorkflowQueue) == 0 && active(servicebus.NotificationsQueue) == 0 {
			return
		}
	}
	t.Errorf("the queues did not drain within 3 minutes: workflow %d, notifications %d active", active(servicebus.WorkflowQueue), active(servicebus.NotificationsQueue))
}

// smsKinds are the notice texts, by kind (see notify.Text); the first
// that a message contains is its kind.
var smsKinds = []struct{ kind, text string }{
	{"completed", " was applied."}, {"rejected", " was rejected"}, {"failed", " was not applied"},
	{"sentBack", " was sent back for changes"}, {"expired", " expired: "}, {"terminated", " was cancelled."},
	{"reminder", " still waits for your approval."}, {"taskAssigned", " waits for your approval."}, // the longer text first
	{"escalated", " was not decided in time"},
}

func (k *soak) check(t *testing.T, driven time.Duration) {
	// SMS by request, kind and phone.
	sms := map[string]map[string]map[string]int{}
	for _, m := range k.s.Outbox.List("") {
		i := strings.Index(m.Body, "req-")
		if i < 0 {
			continue // PINs
		}
		rid := strings.FieldsFunc(m.Body[i:], func(r rune) bool { return r == ' ' })[0]
		for _, sk := range smsKinds {
			if strings.Contains(m.Body, sk.text) {
				if sms[rid] == nil {
					sms[rid] = map[string]map[string]int{}
				}
				if sms[rid][sk.kind] == nil {
					sms[rid][sk.kind] = map[string]int{}
				}
				sms[rid][sk.kind][m.To]++
				break
			}
		}
	}
	var problems []string
	fail := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	outcomes := map[string]int{}
	var times, direct, approval []time.Duration
	type slow struct {
		d    time.Duration
		line string
	}
	var slowest []slow
	for _, r := range k.reqs {
		if _, after, ok := strings.Cut(r.err, "was already submitted with request "); ok && r.rid == "" && r.orphan == "" {
			r.orphan, _, _ = strings.Cut(after, ";") // the refusal of the retry names it
		}
		if r.rid == "" && r.orphan == "" {
			// An applied change names its request in the profile.
			if pa, err := k.do("GET", "/api/v1/profile/"+r.profile, r.tok, nil, nil); err == nil && pa.status == 200 {
				if id, _ := pa.body["lastRequestId"].(string); id != "" {
					r.orphan = id
				}
			}
		}
		if r.rid == "" && r.orphan == "" {
			outcomes["not accepted (client error)"]++
			fail("request %d (profile %s): not accepted: %s", r.i, r.profile, r.err)
			continue
		}
		orphan := ""
		if r.rid == "" {
			// The PATCH's answer was lost (the handler died) and its retry
			// (same Idempotency-Key) refused instead of answered again.
			orphan = fmt.Sprintf("request %d (profile %s): the retried PATCH was refused: %s", r.i, r.profile, r.err)
			r.rid, r.err = r.orphan, ""
		}
		if r.err != "" {
			fail("request %d %s: %s", r.i, r.rid, r.err)
		}
		a, err := k.do("GET", "/api/v1/requests/"+r.rid, r.tok, nil, nil)
		if err == nil && a.status == 404 && r.rid == r.orphan {
			// The refusal named a request that was never recorded: the
			// handler died after claiming the upload for it, before the
			// record was written; the change was not accepted, and the
			// upload cannot be used again.
			outcomes["refused: upload claimed by a request never created"]++
			fail("%s — and %s does not exist", orphan, r.rid)
			continue
		}
		if orphan != "" {
			// The request exists: accepted, and the client was never told.
			outcomes["accepted, answer lost, retry refused"]++
			fail("%s — though %s was accepted", orphan, r.rid)
		}
		if err != nil || (a.status != 200 && a.status != 202) {
			outcomes["lost"]++
			fail("request %d %s: accepted but no record: %d %v %v", r.i, r.rid, a.status, a.body, err)
			continue
		}
		st := fmt.Sprint(a.body["runtimeStatus"])
		cs, _ := a.body["customStatus"].(map[string]any)
		hist := map[string]int{}
		var details []string
		hs, _ := a.body["history"].([]any)
		for _, e := range hs {
			m := e.(map[string]any)
			typ, detail := fmt.Sprint(m["type"]), fmt.Sprint(m["detail"])
			// Group notices: entries naming a group that has a phone.
			if strings.HasPrefix(typ, "Task") && !strings.Contains(detail, "ProfileApprover") && !strings.Contains(detail, "ProfileSupervisor") {
				typ += " (no group phone)"
			}
			hist[typ]++
			details = append(details, typ+": "+detail)
		}
		terminal := st == "Completed" || st == "Failed" || st == "Terminated"
		wf, _ := cs["waitingFor"].([]any)
		if !terminal && len(wf) == 0 {
			fail("request %d %s: %s, stage %v, waits for nothing", r.i, r.rid, st, cs["stage"])
		}
		// The profile: version 2 and the value exactly when applied.
		pa, err := k.do("GET", "/api/v1/profile/"+r.profile, r.tok, nil, nil)
		if err != nil || pa.status != 200 {
			fail("profile %s: %d %v", r.profile, pa.status, err)
			continue
		}
		version, _ := pa.body["version"].(float64)
		want := r.p.value
		if r.answered {
			want = r.p.answer
		}
		switch {
		case st == "Completed" && (version != 2 || pa.body[r.p.field] != want || hist["ChangeApplied"] != 1):
			fail("request %d %s Completed: profile version %v %s=%v (want 2, %q), %d ChangeApplied", r.i, r.rid, version, r.p.field, pa.body[r.p.field], want, hist["ChangeApplied"])
		case st != "Completed" && version != 1:
			fail("request %d %s %s: profile version %v, want 1", r.i, r.rid, st, version)
		}
		// SMS: requester notices once each, and the outcome's once.
		got := sms[r.rid]
		total := func(kind string) int {
			n := 0
			for _, c := range got[kind] {
				n += c
			}
			return n
		}
		for _, kind := range []string{"completed", "rejected", "failed", "sentBack", "expired", "terminated"} {
			if n := total(kind); n > 1 {
				fail("request %d %s: %d %q SMS", r.i, r.rid, n, kind)
			}
		}
		outcomeSMS := map[string]string{"Completed": "completed", "Terminated": "terminated"}[st]
		if outcomeSMS != "" && total(outcomeSMS) != 1 {
			fail("request %d %s %s: %d %q SMS, want 1", r.i, r.rid, st, total(outcomeSMS), outcomeSMS)
		}
		if st == "Failed" && total("rejected")+total("failed")+total("expired") != 1 {
			fail("request %d %s Failed: outcome SMS %v", r.i, r.rid, got)
		}
		if hist["RequestSentBack"] > 0 || r.sentBack {
			if total("sentBack") != 1 {
				fail("request %d %s: %d sent-back SMS, want 1", r.i, r.rid, total("sentBack"))
			}
		}
		// Group notices: per phone at most one per history entry, and at
		// least one per entry in all.
		for kind, typ := range map[string]string{"taskAssigned": "TaskAssigned", "reminder": "TaskReminder", "escalated": "TaskEscalated"} {
			for phone, n := range got[kind] {
				if n > hist[typ] {
					fail("request %d %s: %d %q SMS to %s for %d %s entries: %v", r.i, r.rid, n, kind, phone, hist[typ], typ, details)
				}
			}
			if total(kind) < hist[typ] {
				fail("request %d %s: %d %q SMS for %d %s entries: %v", r.i, r.rid, total(kind), kind, hist[typ], typ, details)
			}
		}
		// Outcome class.
		class := st
		switch {
		case r.p.direct:
			class = "direct " + st
		case st == "Completed" && r.answered:
			class = "sent back, answered, approved"
		case st == "Completed" && r.p.field == "lastName":
			class = "two approvals, applied"
		case st == "Completed":
			class = "one approval, applied"
		case st == "Failed" && total("expired") == 1:
			class = "sent back, expired (Failed)"
		case st == "Failed" && r.answered:
			class = "sent back, answered, rejected"
		case st == "Failed":
			class = "rejected (Failed)"
		case !terminal:
			class = fmt.Sprintf("waiting (%v for %v)", cs["stage"], wf)
		}
		outcomes[class]++
		if hist["TaskEscalated"] > 0 {
			outcomes["(escalated on the way)"]++
		}
		if hist["TaskReminder"] > 0 {
			outcomes["(reminded on the way)"]++
		}
		if terminal && !r.terminal.IsZero() {
			d := r.terminal.Sub(r.submitted)
			times = append(times, d)
			var events []string
			for _, e := range hs {
				m := e.(map[string]any)
				at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(m["at"]))
				events = append(events, fmt.Sprintf("%s@+%.1fs", m["type"], at.Sub(r.submitted).Seconds()))
			}
			slowest = append(slowest, slow{d, fmt.Sprintf("%s %s (%s) %s: accepted after %s; %s", r.rid, r.p.field, r.p.outcome, d.Round(100*time.Millisecond),
				r.accepted.Sub(r.submitted).Round(100*time.Millisecond), strings.Join(events, " "))})
			if r.p.direct {
				direct = append(direct, d)
			} else {
				approval = append(approval, d)
			}
		}
	}

	// The report.
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %d requests (seed %d, %d in flight), driven in %s, %.2f requests/s sustained\n",
		len(k.reqs), k.cfg.Seed, k.cfg.Inflight, driven.Round(time.Second), float64(len(k.reqs))/driven.Seconds())
	keys := make([]string, 0, len(outcomes))
	for c := range outcomes {
		keys = append(keys, c)
	}
	sort.Strings(keys)
	for _, c := range keys {
		fmt.Fprintf(&b, "  %-45s %5d\n", c, outcomes[c])
	}
	fmt.Fprintf(&b, "  submit→terminal all:      p50 %s  p99 %s  (n=%d)\n", pct(times, 50), pct(times, 99), len(times))
	fmt.Fprintf(&b, "  submit→terminal direct:   p50 %s  p99 %s  (n=%d)\n", pct(direct, 50), pct(direct, 99), len(direct))
	fmt.Fprintf(&b, "  submit→terminal approval: p50 %s  p99 %s  (n=%d)\n", pct(approval, 50), pct(approval, 99), len(approval))
	fmt.Fprintf(&b, "  handler kills (SIGKILL + restart): %d; HTTP calls retried: %d\n", k.kills.Load(), k.retries.Load())
	fmt.Fprintf(&b, "  duplicates injected: %d workflow messages, %d due timers, %d notices; %d decisions repeated with their taskId (%d not 200)\n",
		k.dupActive.Load(), k.dupTimers.Load(), k.dupNotices.Load(), k.replays.Load(), k.badReplays.Load())
	var ds []string
	k.decisions.Range(func(key, v any) bool {
		ds = append(ds, fmt.Sprintf("%s: %d", key, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(ds)
	fmt.Fprintf(&b, "  decisions: %s\n", strings.Join(ds, ", "))
	fmt.Fprintf(&b, "  SMS: %d (PINs included)\n", len(k.s.Outbox.List("")))
	slices.SortFunc(slowest, func(x, y slow) int { return int(y.d - x.d) })
	for _, sl := range slowest[:min(3, len(slowest))] {
		fmt.Fprintf(&b, "  slow: %s\n", sl.line)
	}
	fmt.Fprintf(&b, "  problems: %d\n", len(problems))
	t.Log("\n" + b.String())
	fmt.Fprint(os.Stderr, b.String())
	for i, p := range problems {
		if i == 50 {
			t.Errorf("… and %d more", len(problems)-50)
			break
		}
		t.Error(p)
	}
	if k.kills.Load() == 0 && k.cfg.KillEvery > 0 && driven > 2*k.cfg.KillEvery {
		t.Error("the handler was never killed")
	}
	if k.dupActive.Load()+k.dupTimers.Load()+k.dupNotices.Load() == 0 {
		t.Error("no duplicate was injected")
	}
}

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))].Round(10 * time.Millisecond)
}
