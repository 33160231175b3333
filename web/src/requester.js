// The requester's pages: the profile with the change form (fields,
// documents uploaded straight to blob, SMS PIN, submit) and the live status
// of a request (timeline, verdicts, approvals, outcome, answering a
// send-back).
import { get, set, del } from "idb-keyval";
import { ApiError, nextPollDelay } from "./api.js";
import { h, fill, field, announce, uid } from "./dom.js";
import { UploadSession, formatBytes, formatDuration } from "./upload.js";
import { md5Pool, md5Inline } from "./md5.js";

// Content-MD5 of blocks is computed by workers (built as md5worker.js
// beside app.js; config.json's md5Workers, default 2, 0 = on the page's
// own thread), so the page stays responsive and hashing overlaps.
let hashPool = null;
function hasher(config) {
  const n = Math.min(config.md5Workers ?? 2, navigator.hardwareConcurrency || 2);
  return (hashPool ||= n > 0 ? md5Pool(new URL("md5worker.js", document.baseURI), n) : md5Inline);
}

export const MAX_FILES = 2;
export const MAX_SIZE = 25 * 1024 * 1024; // 25 MiB, the API's limit per file
const TYPES = { "application/pdf": [".pdf"], "image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"] };
export const MARITAL = ["Single", "Married", "Divorced", "Widowed", "Separated", "DomesticPartnership"];
const FIELDS = [["firstName", "First name"], ["lastName", "Last name"], ["maritalStatus", "Marital status"], ["description", "Description"]];

/**
 * Checks chosen files before any upload, as the API will (its answer stays
 * authoritative): at most two, pdf/png/jpeg with a matching extension,
 * 1 byte to 25 MiB. Returns a list of problems (empty when fine).
 */
export function checkFiles(files) {
  const problems = [];
  if (files.length > MAX_FILES) problems.push(`Choose at most ${MAX_FILES} documents (you chose ${files.length}).`);
  for (const f of files) {
    const ext = (f.name.match(/\.[^.]+$/) || [""])[0].toLowerCase();
    const exts = TYPES[f.type];
    if (!exts) problems.push(`${f.name}: only PDF, PNG or JPEG documents are accepted.`);
    else if (!exts.includes(ext)) problems.push(`${f.name}: the extension ${ext || "(none)"} does not match its type ${f.type}.`);
    if (f.size === 0) problems.push(`${f.name}: the file is empty.`);
    if (f.size > MAX_SIZE) problems.push(`${f.name}: ${formatBytes(f.size)} is over the limit of 25 MiB.`);
  }
  return problems;
}

const uploadKey = (profileId) => `upload:${profileId}`;

function errorBox(msg) {
  return h("p", { class: "error", role: "alert" }, msg);
}

function describeError(e) {
  if (e instanceof ApiError) return `${e.message} (HTTP ${e.status})`;
  return e && e.message ? e.message : String(e);
}

/**
 * The upload panel: progress per file and overall with speed and time
 * left, pause/resume; restores a stored session after a reload.
 */
class UploadPanel {
  constructor(app, profileId) {
    this.app = app;
    this.profileId = profileId;
    this.session = null;
    this.uploadId = null;
    this.done = false;
    this.el = h("section", { class: "upload", "aria-labelledby": "upload-h" });
    this.onReady = () => {};
    this.onRemoved = () => {};
    this.render();
  }

  /** Redraws the panel; message (kept until the next one) says what happened. */
  render(message) {
    if (message !== undefined) this.message = message;
    const children = [h("h3", { id: "upload-h" }, "Upload")];
    if (this.message) children.push(h("p", { class: "note", "data-testid": "upload-note" }, this.message));
    if (this.session) {
      const p = this.session.progress();
      for (const f of p.files) {
        const pid = uid("p");
        children.push(h("div", { class: "bar" },
          h("label", { for: pid }, `${f.name}`),
          h("progress", { id: pid, max: f.total, value: f.done }),
          h("span", { class: "num" }, f.committed ? "done" : `${Math.floor((100 * f.done) / f.total)} %`),
          f.error ? h("span", { class: "error" }, ` ${f.error}`) : null));
      }
      const pct = p.total ? Math.floor((100 * p.done) / p.total) : 0;
      this.progressText = h("p", { class: "overall", "data-testid": "overall" },
        `All documents: ${pct} % of ${formatBytes(p.total)}`,
        this.done ? " — uploaded" : ` — ${formatBytes(p.speed)}/s, ${p.paused ? "paused" : formatDuration(p.eta) + " left"}`);
      children.push(h("progress", { class: "total", max: p.total, value: p.done, "aria-label": "All documents uploaded" }), this.progressText);
      const buttons = [];
      if (!this.done) {
        buttons.push(p.paused
          ? h("button", { type: "button", onclick: () => this.resume() }, "Resume upload")
          : h("button", { type: "button", onclick: () => this.pause() }, "Pause upload"));
      }
      if (this.done || p.paused) buttons.push(h("button", { type: "button", onclick: () => this.remove() }, "Remove documents"));
      children.push(h("div", { class: "actions" }, buttons));
    }
    fill(this.el, children);
  }

  pause() {
    this.session.pause();
    announce("Upload paused");
    this.render();
  }

  async resume() {
    announce("Upload resumed");
    await this.run();
  }

  async run() {
    this.render();
    try {
      const ok = await this.session.start();
      if (ok) {
        this.done = true;
        announce("Documents uploaded");
        this.render(this.message && this.message.startsWith("The upload stopped") ? "" : undefined);
        this.onReady();
      }
    } catch (e) {
      this.render(`The upload stopped: ${describeError(e)}. Press "Resume upload" to try again.`);
      announce("The upload stopped");
    }
  }

  sessionFor(files, plans, states) {
    return new UploadSession({
      files: plans.map((plan, i) => ({
        file: files[i], plan,
        staged: states ? states[i].uncommittedBlocks : [],
        committed: states ? states[i].committed : false,
      })),
      hash: hasher(this.app.config),
      onChange: () => this.renderThrottled(),
    });
  }

  renderThrottled() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = null; this.render(); });
  }

  /** Starts a new upload of files (already checked). */
  async start(files, draft) {
    this.message = "";
    const { body: plan } = await this.app.api.startUpload(this.profileId, files.map((f) => ({ name: f.name, contentType: f.type, size: f.size })));
    this.uploadId = plan.uploadId;
    await set(uploadKey(this.profileId), { uploadId: plan.uploadId, files, draft, at: Date.now() });
    this.session = this.sessionFor(files, plan.files, null);
    this.done = false;
    await this.run();
  }

  /**
   * Resumes a stored upload after a reload: the server's upload state says
   * which files are committed and which blocks are staged; only the rest
   * is sent. Returns the stored draft, or null when nothing was stored.
   */
  async restore() {
    const saved = await get(uploadKey(this.profileId));
    if (!saved) return null;
    let state;
    try {
      ({ body: state } = await this.app.api.uploadState(this.profileId, saved.uploadId));
    } catch (e) {
      await del(uploadKey(this.profileId));
      this.render(e instanceof ApiError && e.status === 410
        ? "Your earlier upload expired; please choose the documents again."
        : `Your earlier upload could not be resumed: ${describeError(e)}`);
      return saved.draft || null;
    }
    if (state.request) {
      await del(uploadKey(this.profileId));
      return { submitted: state.request };
    }
    this.uploadId = saved.uploadId;
    const plans = state.files.map((f) => ({ ...f, uploadUrl: f.uploadUrl || "" }));
    this.session = this.sessionFor(saved.files, plans, state.files);
    this.done = false;
    const staged = state.files.reduce((a, f) => a + (f.committed ? f.blockCount : f.uncommittedBlocks.length), 0);
    this.render(`Resuming your upload after a reload: ${staged} block(s) were already stored and are not sent again.`);
    this.run();
    return { ...(saved.draft || {}), files: saved.files };
  }

  async forget() {
    await del(uploadKey(this.profileId));
  }

  /** Drops the upload (its blobs are never submitted; the server sweeps them). */
  async remove() {
    if (this.session) this.session.pause();
    await this.forget();
    this.session = null;
    this.uploadId = null;
    this.done = false;
    this.render("");
    announce("Documents removed");
    this.onRemoved();
  }
}

/**
 * The change form, used for a new change and for answering a send-back
 * (answerTo = the request id): fields, documents, SMS PIN, submit.
 */
export function changeForm(app, profile, { answerTo, initial } = {}) {
  const profileId = profile.id;
  const inputs = {
    firstName: h("input", { type: "text", name: "firstName", value: initial?.firstName ?? profile.firstName, autocomplete: "given-name", maxlength: 100 }),
    lastName: h("input", { type: "text", name: "lastName", value: initial?.lastName ?? profile.lastName, autocomplete: "family-name", maxlength: 100 }),
    maritalStatus: h("select", { name: "maritalStatus" }, MARITAL.map((m) => h("option", { value: m, selected: (initial?.maritalStatus ?? profile.maritalStatus) === m }, m))),
    description: h("textarea", { name: "description", rows: 3, maxlength: 1000 }, initial?.description ?? profile.description ?? ""),
  };
  const fileInput = h("input", { type: "file", name: "documents", multiple: true, accept: ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg" });
  const fileProblems = h("div", { "aria-live": "polite" });
  const panel = new UploadPanel(app, profileId);
  const codeInput = h("input", { type: "text", name: "code", inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", maxlength: 6 });
  const mfaStatus = h("p", { class: "note", "aria-live": "polite" });
  const devPanel = h("div");
  const result = h("div", { "aria-live": "assertive" });
  const submitBtn = h("button", { type: "submit", class: "primary" }, answerTo ? "Send answer" : "Submit change");
  let challengeId = null;

  // The change: every field whose value differs from the profile (an
  // answer to a send-back restates the whole change the same way).
  const changedFields = () => {
    const out = {};
    for (const [k] of FIELDS) if (inputs[k].value !== (profile[k] ?? "")) out[k] = inputs[k].value;
    return out;
  };
  const draft = () => Object.fromEntries(FIELDS.map(([k]) => [k, inputs[k].value]));

  fileInput.addEventListener("change", async () => {
    const files = Array.from(fileInput.files || []);
    const problems = checkFiles(files);
    fill(fileProblems, problems.map((p) => errorBox(p)));
    if (problems.length || !files.length) return;
    fileInput.disabled = true;
    try {
      await panel.start(files, draft());
    } catch (e) {
      fill(fileProblems, errorBox(`The server refused the documents: ${describeError(e)}`));
      fileInput.disabled = false;
    }
  });

  const sendCode = async () => {
    try {
      const { body } = await app.api.challenge(profileId);
      challengeId = body.challengeId;
      mfaStatus.textContent = `A 6-digit code was sent by SMS to ${body.to}.`;
      codeInput.focus();
      if (app.config.auth.mode === "dev") showDevCode(app, profile.phone, devPanel, body);
    } catch (e) {
      mfaStatus.textContent = `No code was sent: ${describeError(e)}`;
    }
  };

  // The last attempt: its MFA token (spent only when a change is accepted,
  // so it serves a corrected retry too), and its Idempotency-Key and body,
  // sent again unchanged when the answer was lost (network error), so a
  // change the server did accept is not submitted twice.
  let attempt = null;

  const onSubmit = async (ev) => {
    ev.preventDefault();
    fill(result);
    const change = changedFields();
    if (!Object.keys(change).length) return fill(result, errorBox("Nothing changed: edit a field first."));
    if (panel.session && !panel.done) return fill(result, errorBox("Wait until the documents are uploaded."));
    const fingerprint = JSON.stringify([change, panel.uploadId, answerTo]);
    if (!attempt?.mfaToken) {
      if (!challengeId) return fill(result, errorBox('Press "Send code" and enter the code from the SMS.'));
      if (!/^[0-9]{6}$/.test(codeInput.value)) return fill(result, errorBox("Enter the 6-digit code from the SMS."));
    }
    submitBtn.disabled = true;
    try {
      if (!attempt?.mfaToken) {
        const { body: v } = await app.api.verify(challengeId, codeInput.value);
        attempt = { mfaToken: v.mfaToken };
        challengeId = null;
      }
      if (!(attempt.lost && attempt.fingerprint === fingerprint)) {
        const body = { ...change, timestamp: new Date().toISOString() };
        if (panel.uploadId) body.uploadId = panel.uploadId;
        if (answerTo) body.answerTo = answerTo;
        attempt = { mfaToken: attempt.mfaToken, fingerprint, body, key: crypto.randomUUID() };
      }
      attempt.lost = false;
      app.mark("submit");
      const { status, body: res } = await app.api.submit(profileId, attempt.body, attempt.mfaToken, attempt.key);
      attempt = null;
      await panel.forget();
      announce(status === 200 ? "Change applied" : "Change submitted");
      app.go(`#/request/${encodeURIComponent(res.request.split("/").pop())}`);
    } catch (e) {
      submitBtn.disabled = false;
      if (!(e instanceof ApiError)) {
        if (attempt) attempt.lost = true;
        fill(result, errorBox(`The answer was lost (${describeError(e)}). Press the button again: the same change is sent again, never twice.`));
      } else if (e.status === 401 && e.body && "attemptsLeft" in e.body) {
        fill(result, errorBox(`Wrong code: ${e.body.attemptsLeft} attempt(s) left.`));
      } else if (e.status === 401 || e.status === 403 || e.status === 410) {
        attempt = null;
        fill(result, errorBox(`Not submitted: ${describeError(e)}. Press "Send code" for a new SMS code.`));
      } else {
        fill(result, errorBox(`Not submitted: ${describeError(e)}`));
      }
    }
  };

  const form = h("form", { class: "change", onsubmit: onSubmit, novalidate: true },
    h("fieldset", {}, h("legend", {}, answerTo ? "Your answer" : "Change"),
      FIELDS.map(([k, label]) => field(label, inputs[k]))),
    h("fieldset", {}, h("legend", {}, "Evidence documents"),
      field("Documents (up to 2: PDF, PNG or JPEG, 25 MiB each)", fileInput, "A change of name or marital status needs at least one document."),
      fileProblems, panel.el),
    h("fieldset", {}, h("legend", {}, "Confirm with SMS"),
      h("button", { type: "button", onclick: sendCode }, "Send code"),
      mfaStatus,
      field("Code from the SMS", codeInput),
      devPanel),
    submitBtn, result);

  panel.onRemoved = () => {
    fileInput.value = "";
    fileInput.disabled = false;
    fileInput.focus();
  };

  // A reload during an upload: restore the draft and resume the upload.
  panel.restore().then((saved) => {
    if (!saved) return;
    if (saved.submitted) {
      fill(result, h("p", { class: "note" }, "Your change was submitted. ", h("a", { href: `#/request/${saved.submitted.split("/").pop()}` }, "See its status")));
      return;
    }
    for (const [k] of FIELDS) if (saved[k] != null) inputs[k].value = saved[k];
    if (saved.files) fileInput.disabled = true;
  });
  return form;
}

/** Dev only: shows the newest SMS of the phone from the local outbox. */
async function showDevCode(app, phone, el, challenge) {
  const since = Date.now() - 60000;
  for (let i = 0; i < 20; i++) {
    const resp = await fetch(`/dev/outbox?to=${encodeURIComponent(phone)}`, { cache: "no-store" });
    const msgs = resp.ok ? await resp.json() : [];
    const last = msgs[msgs.length - 1];
    const code = last && (last.body.match(/\b(\d{6})\b/) || [])[1];
    if (code && Date.parse(last.time) >= since) {
      fill(el, h("aside", { class: "dev", "aria-label": "Developer panel" },
        h("p", {}, h("strong", {}, "Developer panel (local only): "), `SMS to ${last.to}: “${last.body}”`),
        h("p", {}, "Code: ", h("code", { "data-testid": "dev-code" }, code))));
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  fill(el, h("p", { class: "note" }, `Developer panel: no SMS reached the local outbox for ${challenge.to}.`));
}

/** #/profile: the signed-in user's profile and the change form. */
export async function profilePage(app, main) {
  const id = app.profileId();
  const idInput = h("input", { type: "text", name: "profileId", value: id, inputmode: "numeric" });
  const head = h("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); app.setProfileId(idInput.value.trim()); app.render(); } },
    field("Profile id", idInput), h("button", { type: "submit" }, "Open"));
  fill(main, h("h1", {}, "Your profile"), head, h("p", {}, "Loading…"));
  let profile;
  try {
    ({ body: profile } = await app.api.profile(id));
  } catch (e) {
    fill(main, h("h1", {}, "Your profile"), head, errorBox(`The profile could not be loaded: ${describeError(e)}`));
    return;
  }
  const current = h("dl", { class: "current" }, FIELDS.map(([k, label]) => [h("dt", {}, label), h("dd", { "data-field": k }, profile[k] || "—")]));
  const last = profile.lastRequestId ? h("p", {}, "Last change: ", h("a", { href: `#/request/${profile.lastRequestId}` }, profile.lastRequestId)) : null;
  fill(main, h("h1", {}, "Your profile"), head, h("h2", {}, "Current values"), current, last,
    h("h2", {}, "Request a change"), changeForm(app, profile));
}

const STAGES = {
  received: "Received",
  waitingForScan: "Waiting for the document scan",
  waitingForApproval: "Waiting for approval",
  sentBack: "Sent back to you: please answer",
  running: "In progress",
  applied: "Applied",
  failed: "Failed",
  rejected: "Rejected by the approver",
  expired: "Expired: sent back and not answered in time",
  cancelled: "Cancelled",
};
const TERMINAL = new Set(["Completed", "Failed", "Terminated"]);

export function stageText(stage) { return STAGES[stage] || stage; }

/** #/request/{id}: the live status timeline of a request. */
export async function requestPage(app, main, requestId) {
  const url = `/api/v1/requests/${encodeURIComponent(requestId)}`;
  const stageEl = h("p", { class: "stage", "data-testid": "stage", role: "status", "aria-live": "polite" }, "Loading…");
  const body = h("div");
  const pollNote = h("p", { class: "hint" });
  fill(main, h("h1", {}, "Request ", h("code", {}, requestId)), stageEl, pollNote, body);
  const ctl = new AbortController();
  app.onLeave(() => ctl.abort());
  let delay = 0;
  let lastStage = null;
  let answered = false;
  while (!ctl.signal.aborted) {
    let resp;
    try {
      resp = await app.api.status(url, ctl.signal);
    } catch (e) {
      if (ctl.signal.aborted) return;
      if (e instanceof ApiError && (e.status === 404 || e.status === 403)) {
        stageEl.textContent = "Not found";
        fill(body, errorBox(`This request does not exist or is not yours: ${describeError(e)}`));
        return;
      }
      delay = nextPollDelay(e.headers, delay);
      pollNote.textContent = `Could not refresh (${describeError(e)}); trying again in ${Math.round(delay / 1000)} s.`;
      await sleep(delay, ctl.signal);
      continue;
    }
    const st = resp.body;
    const stage = st.customStatus?.stage || "";
    if (stage !== lastStage) {
      if (stage === "waitingForApproval") app.mark("waitingForApproval");
      announce(`Request status: ${stageText(stage)}`);
      lastStage = stage;
    }
    stageEl.textContent = `${stageText(stage)} (${st.runtimeStatus})`;
    stageEl.dataset.stage = stage;
    stageEl.dataset.runtime = st.runtimeStatus;
    if (!(stage === "sentBack" && answered)) fill(body, renderStatus(app, st, () => { answered = true; }));
    if (TERMINAL.has(st.runtimeStatus)) {
      pollNote.textContent = "Final.";
      return;
    }
    delay = nextPollDelay(resp.headers, delay);
    pollNote.textContent = `Refreshes every ${Math.round(delay / 1000)} s.`;
    await sleep(delay, ctl.signal);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

const fmtTime = (t) => (t ? new Date(t).toLocaleString() : "");

function renderStatus(app, st, onAnswering) {
  const cs = st.customStatus || {};
  const parts = [];
  if (st.runtimeStatus === "Failed" || st.runtimeStatus === "Terminated") {
    parts.push(h("p", { class: "error outcome", role: "alert", "data-testid": "outcome" },
      st.runtimeStatus === "Terminated" ? "This change was cancelled"
        : cs.stage === "rejected" ? "This change was rejected: "
          : cs.stage === "expired" ? "This change expired: " : "This change failed: ",
      st.output?.reason ? String(st.output.reason) : ""));
  } else if (st.runtimeStatus === "Completed") {
    parts.push(h("p", { class: "ok outcome", "data-testid": "outcome" }, cs.stage === "applied" ? "The change was applied to your profile." : `Completed: ${stageText(cs.stage)}`));
  }
  const changes = st.input?.changes || [];
  if (changes.length) {
    parts.push(h("h2", {}, "Change"), changeTable(changes));
  }
  if ((cs.attachments || []).length) {
    parts.push(h("h2", {}, "Documents"), h("ul", { class: "docs" }, cs.attachments.map((a) =>
      h("li", { "data-verdict": a.verdict }, `${a.name} (${formatBytes(a.size)}): `, h("strong", {}, verdictText(a)),
        a.link ? [" ", docButton(app, a)] : null))));
  }
  if ((cs.approvals || []).length) {
    parts.push(h("h2", {}, "Decisions"), h("ul", { "data-testid": "decisions" }, cs.approvals.map((a) =>
      h("li", {}, `${decisionText(a.decision)} by ${a.actor} (${a.task}) ${fmtTime(a.at)}`, a.comment ? h("blockquote", {}, a.comment) : null))));
  }
  if ((cs.openTasks || []).length) {
    parts.push(h("p", {}, "Waiting for: ", cs.openTasks.map((t) => t.name || t.task).join(", ")));
  }
  if (cs.stage === "sentBack" && app.session()?.sub && !TERMINAL.has(st.runtimeStatus)) {
    parts.push(answerSection(app, st, onAnswering));
  }
  if (!TERMINAL.has(st.runtimeStatus) && !(app.session()?.roles || []).includes("ProfileApprover")) {
    parts.push(h("button", { type: "button", class: "danger", onclick: async (e) => {
      e.target.disabled = true;
      try { await app.api.cancel(st.id); announce("Request cancelled"); } catch (err) { e.target.after(errorBox(`Not cancelled: ${describeError(err)}`)); }
    } }, "Cancel this request"));
  }
  if ((st.history || []).length) {
    parts.push(h("h2", {}, "Timeline"), h("ol", { class: "timeline", "data-testid": "timeline" }, st.history.map((e) =>
      h("li", {}, h("time", { datetime: e.at }, fmtTime(e.at)), " ", h("strong", {}, e.type), e.actor ? ` by ${e.actor}` : "", e.detail ? `: ${e.detail}` : ""))));
  }
  return parts;
}

function verdictText(a) {
  switch (a.verdict) {
    case "pending": return "waiting for the scan";
    case "clean": return "clean";
    case "infected": return `infected${a.signature ? " (" + a.signature + ")" : ""}: refused`;
    case "rejected": return `refused${a.detail ? ": " + a.detail : ""}`;
    case "error": return `could not be scanned${a.detail ? ": " + a.detail : ""}`;
    default: return a.verdict;
  }
}

function decisionText(d) {
  return { approve: "Approved", reject: "Rejected", sendBack: "Sent back", resubmit: "Answered" }[d] || d;
}

export function changeTable(changes) {
  return h("table", { class: "changes" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), h("th", { scope: "col" }, "Old"), h("th", { scope: "col" }, "New"))),
    h("tbody", {}, changes.map((c) => h("tr", {}, h("th", { scope: "row" }, c.field), h("td", {}, c.old), h("td", {}, c.new)))));
}

/** A button that reads a clean document through its read link. */
export function docButton(app, a) {
  return h("button", { type: "button", class: "link", onclick: async (e) => {
    const btn = e.currentTarget;
    btn.disabled = true;
    try {
      const blob = await app.api.document(a.link);
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: a.name, "data-size": blob.size, "data-type": blob.type }, `Save ${a.name}`);
      btn.replaceWith(link);
      link.focus();
      announce(`${a.name} is ready (${formatBytes(blob.size)})`);
    } catch (err) {
      btn.disabled = false;
      btn.after(errorBox(`${a.name} could not be opened: ${describeError(err)}`));
    }
  } }, `Open ${a.name}`);
}

function answerSection(app, st, onAnswering) {
  const box = h("section", { class: "answer", "aria-labelledby": "answer-h" }, h("h2", { id: "answer-h" }, "Answer the send-back"), h("p", {}, "Loading your profile…"));
  const initial = {};
  for (const c of st.input?.changes || []) initial[c.field] = c.new;
  app.api.profile(st.input?.profileId || app.profileId()).then(({ body: profile }) => {
    onAnswering();
    fill(box, h("h2", { id: "answer-h" }, "Answer the send-back"),
      h("p", {}, "An approver sent this change back. Correct it or add documents, then confirm with a new SMS code."),
      changeForm(app, profile, { answerTo: st.id, initial }));
  }).catch((e) => fill(box, errorBox(`Your profile could not be loaded: ${describeError(e)}`)));
  return box;
}

export { formatBytes };
