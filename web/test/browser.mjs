// Browser scenarios of the web UI, run by dev/webui's Go tests against the
// local system they start:  node web/test/browser.mjs <scenario>
// PF_PARAMS (JSON): url (the development host), docs (folder of the test
// documents), artifacts (where a failing scenario leaves screenshots and the
// console), chromium (executable), and the scenario's own parameters.
// Debian's Chromium runs headless through playwright-core. Each scenario
// throws on a failed check; the last stdout line "RESULT {json}" carries its
// figures. Any console error or warning, or uncaught page error, fails it.
import { chromium } from "playwright-core";
import { mkdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

const P = JSON.parse(process.env.PF_PARAMS || "{}");
const scenario = process.argv[2];
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
  "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"];
const T = { timeout: 90_000 };

function check(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}
const log = (...a) => console.log(new Date().toISOString().slice(11, 23), ...a);

const browser = await chromium.launch({ executablePath: P.chromium, headless: true, args: ARGS });
const pages = [];
const consoleLines = [];
const problems = [];
// Console messages a scenario provokes on purpose (e.g. a refused
// decision's HTTP status); everything else that is an error or warning fails.
const expected = [];

async function newPage(name, viewport = { width: 1024, height: 900 }) {
  const ctx = await browser.newContext({ viewport });
  const page = await ctx.newPage();
  page.on("console", (m) => {
    const line = `[${name}] ${m.type()}: ${m.text()}`;
    consoleLines.push(line);
    if ((m.type() === "error" || m.type() === "warning") && !expected.some((re) => re.test(m.text()))) problems.push(line);
  });
  page.on("pageerror", (e) => { consoleLines.push(`[${name}] pageerror: ${e.message}`); problems.push(`[${name}] uncaught: ${e.message}`); });
  pages.push([name, page]);
  return page;
}

async function signIn(page, sub, { approver = false } = {}) {
  await page.goto(`${P.url}/#/signin`);
  await page.getByLabel("User (subject)").fill(sub);
  if (approver) await page.getByLabel("Approver (role ProfileApprover)").check();
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor(T);
}

async function openProfile(page, profileId) {
  await page.goto(`${P.url}/#/profile`);
  await page.getByLabel("Profile id").fill(profileId);
  await page.getByRole("button", { name: "Open", exact: true }).click();
  await page.locator("form.change").waitFor(T);
}

async function chooseFiles(page, names) {
  await page.getByLabel(/^Documents/).setInputFiles(names.map((n) => join(P.docs, n)));
}

async function waitUploaded(page) {
  await page.getByTestId("overall").filter({ hasText: "uploaded" }).waitFor({ timeout: 180_000 });
}

/** Send code → read the PIN in the dev panel → enter it → submit. */
async function confirmAndSubmit(page, buttonName = "Submit change") {
  const form = page.locator("form.change").last();
  await form.getByRole("button", { name: "Send code" }).click();
  const code = await form.getByTestId("dev-code").textContent(T);
  check(/^\d{6}$/.test(code), `dev panel shows a 6-digit code, got ${code}`);
  await form.getByLabel("Code from the SMS").fill(code);
  await form.getByRole("button", { name: buttonName }).click();
}

async function waitStage(page, stage, timeout = 120_000) {
  await page.locator(`[data-testid=stage][data-stage=${stage}]`).waitFor({ timeout });
}

const requestIdOf = (page) => decodeURIComponent(new URL(page.url()).hash.split("/").pop());

/** Counts block and block-list PUTs of a page, with timing. */
function watchStorage(page) {
  const w = { blocks: [], done: [], commits: 0, firstAt: 0, lastCommitAt: 0 };
  page.on("request", (r) => {
    if (r.method() !== "PUT") return;
    const u = new URL(r.url());
    if (u.searchParams.get("comp") === "block") {
      if (!w.firstAt) w.firstAt = Date.now();
      w.blocks.push(u.searchParams.get("blockid"));
    }
  });
  page.on("requestfinished", async (r) => {
    if (r.method() !== "PUT") return;
    const u = new URL(r.url());
    const resp = await r.response();
    if (!resp || resp.status() !== 201) return;
    if (u.searchParams.get("comp") === "block") {
      w.done.push(u.searchParams.get("blockid"));
    } else if (u.searchParams.get("comp") === "blocklist") {
      w.commits++;
      w.lastCommitAt = Date.now();
    }
  });
  return w;
}

/** The status record of a request, read with the page's own token. */
function statusOf(page, requestId) {
  return page.evaluate(async (id) => {
    const s = JSON.parse(sessionStorage.getItem("profileflow.session"));
    const r = await fetch(`/api/v1/requests/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${s.token}` } });
    return r.json();
  }, requestId);
}

/** No horizontal scrolling at the page's width, and every control labelled. */
async function checkLayoutAndLabels(page, where) {
  const r = await page.evaluate(() => {
    const unlabelled = [...document.querySelectorAll("input, select, textarea")]
      .filter((el) => el.type !== "hidden" && !(el.labels && el.labels.length) && !el.getAttribute("aria-label"))
      .map((el) => el.name || el.outerHTML.slice(0, 60));
    return { scroll: document.documentElement.scrollWidth, width: window.innerWidth, unlabelled };
  });
  check(r.scroll <= r.width, `${where}: page is ${r.scroll}px wide in a ${r.width}px window`);
  check(r.unlabelled.length === 0, `${where}: controls without a label: ${r.unlabelled.join(", ")}`);
}

// --- scenarios ---

const scenarios = {
  /**
   * The requester flow at 360 px: sign in, edit, two documents (25 MiB PDF
   * and PNG) straight to blob, SMS PIN from the dev panel, submit, status
   * until "waiting for approval". Reports the upload's throughput and the
   * time from submit to "waiting for approval".
   */
  async requester() {
    const page = await newPage("requester", { width: 360, height: 780 });
    const st = watchStorage(page);
    await signIn(page, P.owner);
    await openProfile(page, P.profileId);
    await checkLayoutAndLabels(page, "profile page");
    // Keyboard: the marital status is chosen and the focus is visible.
    await page.getByLabel("Marital status").focus();
    await page.keyboard.press("ArrowDown");
    await page.getByLabel("Marital status").selectOption("Married");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    check(outline !== "none", `focused control shows an outline (got ${outline})`);
    // Client-side checks before any upload: a third file is refused.
    await chooseFiles(page, [P.big, P.png, P.small]);
    await page.getByText("Choose at most 2 documents").waitFor(T);
    check(st.blocks.length === 0, "nothing uploaded for a refused choice");
    await chooseFiles(page, [P.big, P.png]);
    await waitUploaded(page);
    const uploadMs = st.lastCommitAt - st.firstAt;
    const uploadBytes = (await stat(join(P.docs, P.big))).size + (await stat(join(P.docs, P.png))).size;
    check(st.commits === 2, `two Put Block Lists, got ${st.commits}`);
    check(new Set(st.blocks).size === st.blocks.length, "no block sent twice");
    await checkLayoutAndLabels(page, "after upload");
    await confirmAndSubmit(page);
    await waitStage(page, "waitingForApproval");
    const marks = await page.evaluate(() => window.profileflow.marks);
    const id = requestIdOf(page);
    const status = await statusOf(page, id);
    const atts = status.customStatus.attachments;
    check(atts.length === 2 && atts.every((a) => a.verdict === "clean"), `both documents clean: ${JSON.stringify(atts)}`);
    check(status.input.changes.some((c) => c.field === "maritalStatus" && c.new === "Married"), "the change is the marital status");
    const assigned = status.history.find((e) => e.type === "TaskAssigned");
    await page.getByTestId("timeline").getByText("TaskAssigned").waitFor(T);
    await checkLayoutAndLabels(page, "status page");
    return {
      requestId: id, uploadBytes, uploadMs, uploadMBps: uploadBytes / 1e6 / (uploadMs / 1000),
      blocks: st.blocks.length, submitToWaitingMs: marks.waitingForApproval - marks.submit,
      serverCreatedToTaskMs: assigned ? Date.parse(assigned.at) - Date.parse(status.createdTime) : null,
    };
  },

  /**
   * A reload in the middle of an upload: three blocks staged, the others
   * held; pause and resume; reload; the upload resumes from the server's
   * state without re-sending a staged block; one block fails once with 503
   * and is retried; the document then scans clean. The submit's answer is
   * lost once and the retry is answered by the stored answer.
   */
  async reload() {
    const page = await newPage("reload");
    let phase = "before";
    let passed = 0;
    let failed = null;
    const sentAfter = [];
    const held = [];
    await page.route((u) => u.searchParams.get("comp") === "block", async (route) => {
      const id = new URL(route.request().url()).searchParams.get("blockid");
      if (phase === "before") {
        if (passed < 3) { passed++; return route.continue(); }
        held.push(route); // never answered: aborted by pause or reload
        return;
      }
      sentAfter.push(id);
      if (!failed) {
        failed = id;
        return route.fulfill({ status: 503, headers: { "Access-Control-Allow-Origin": P.url, "Access-Control-Expose-Headers": "x-ms-error-code", "x-ms-error-code": "ServerBusy" }, body: "" });
      }
      return route.continue();
    });
    expected.push(/status of 503/);
    const st = watchStorage(page);
    await signIn(page, P.owner);
    await openProfile(page, P.profileId);
    await page.getByLabel("Marital status").selectOption("Married");
    await page.getByLabel("Description").fill("Resumed after a reload");
    await chooseFiles(page, [P.big]);
    const rest = P.bigBlocks - 3;
    await waitFor(() => st.done.length >= 3 && held.length >= rest, "three blocks staged, the others held");
    // Pause stops what is in flight; resume sends the unstaged blocks again.
    await page.getByRole("button", { name: "Pause upload" }).click();
    await page.getByTestId("overall").filter({ hasText: "paused" }).waitFor(T);
    const heldBeforeResume = held.length;
    await page.getByRole("button", { name: "Resume upload" }).click();
    await waitFor(() => held.length >= heldBeforeResume + rest, "resume sends the unstaged blocks again");
    const stagedBefore = new Set(st.done);
    check(stagedBefore.size === 3, `three blocks staged before the reload, got ${stagedBefore.size}`);
    phase = "after";
    await page.reload();
    await page.getByTestId("upload-note").filter({ hasText: "Resuming your upload" }).waitFor(T);
    await waitUploaded(page);
    const desc = await page.getByLabel("Description").inputValue();
    check(desc === "Resumed after a reload", `the draft survives the reload, got ${desc}`);
    const resent = sentAfter.filter((id) => stagedBefore.has(id));
    check(resent.length === 0, `no staged block is sent again after the reload (re-sent: ${resent})`);
    const uniqueAfter = new Set(sentAfter);
    check(uniqueAfter.size + stagedBefore.size === P.bigBlocks, `blocks after reload ${uniqueAfter.size} + staged ${stagedBefore.size} = ${P.bigBlocks}`);
    check(sentAfter.filter((id) => id === failed).length === 2, `the block answered 503 is retried once (${failed})`);
    check(sentAfter.length === P.bigBlocks - stagedBefore.size + 1, `Put Block requests after the reload: ${sentAfter.length}`);
    await page.unroute(() => true);
    // The PATCH's answer is lost once (the server accepted it, the page
    // sees a network error): pressing the button again sends the same body
    // with the same Idempotency-Key and gets the stored answer back.
    const patches = [];
    await page.route((u) => u.pathname === `/api/v1/profile/${P.profileId}`, async (route) => {
      const r = route.request();
      if (r.method() !== "PATCH") return route.continue();
      const resp = await route.fetch();
      patches.push({ key: r.headers()["idempotency-key"], body: r.postData(), status: resp.status(), replayed: resp.headers()["idempotent-replayed"] });
      if (patches.length === 1) return route.abort("connectionreset");
      return route.fulfill({ response: resp });
    });
    expected.push(/ERR_CONNECTION_RESET/);
    await confirmAndSubmit(page);
    await page.getByText("The answer was lost").waitFor(T);
    await page.getByRole("button", { name: "Submit change" }).click();
    await waitStage(page, "waitingForApproval");
    check(patches.length === 2 && patches[0].key === patches[1].key && patches[0].body === patches[1].body, `the retry repeats key and body: ${JSON.stringify(patches)}`);
    check(patches[0].status === 202 && patches[1].status === 202 && patches[1].replayed === "true", `the second answer is the replayed first: ${JSON.stringify(patches)}`);
    const status = await statusOf(page, requestIdOf(page));
    check(status.customStatus.attachments[0].verdict === "clean", "the resumed document scans clean");
    return { stagedBeforeReload: stagedBefore.size, putBlockAfterReload: sentAfter.length, retried: failed, patches: patches.length };
  },

  /** An EICAR document: the request fails, the document is named infected. */
  async eicar() {
    const page = await newPage("eicar");
    await signIn(page, P.owner);
    await openProfile(page, P.profileId);
    await page.getByLabel("Marital status").selectOption("Divorced");
    // A document chosen by mistake is removed before the right one.
    await chooseFiles(page, [P.small]);
    await waitUploaded(page);
    await page.getByRole("button", { name: "Remove documents" }).click();
    await chooseFiles(page, [P.eicar]);
    await waitUploaded(page);
    await confirmAndSubmit(page);
    await waitStage(page, "failed");
    const outcome = await page.getByTestId("outcome").textContent();
    check(/failed/i.test(outcome) && /infected/.test(outcome) && outcome.includes(P.eicar), `outcome names the infected document: ${outcome}`);
    const verdict = await page.locator("ul.docs li").first().getAttribute("data-verdict");
    check(verdict === "infected", `document verdict infected, got ${verdict}`);
    check(await page.getByRole("button", { name: /^Open / }).count() === 0, "no read link for an infected document");
    check(await page.locator("ul.docs li").count() === 1, "only the document left chosen was submitted");
    return { outcome };
  },
};

/** A requester's change of marital status with one document, submitted and waiting for approval. */
async function submitForApproval(name) {
  const req = await newPage(name);
  await signIn(req, P.owner);
  await openProfile(req, P.profileId);
  await req.getByLabel("Marital status").selectOption("Married");
  await chooseFiles(req, [P.small]);
  await waitUploaded(req);
  await confirmAndSubmit(req);
  await waitStage(req, "waitingForApproval");
  return req;
}

/** Pages through the inbox until the request's link shows; clicks it. */
async function openFromInbox(page, requestId) {
  const link = page.locator(`a[href="#/approval/${encodeURIComponent(requestId)}"]`);
  for (let i = 0; i < 50; i++) {
    await page.getByTestId("inbox").or(page.getByTestId("inbox-empty")).waitFor(T);
    if (await link.count()) {
      await link.click();
      await page.getByRole("heading", { name: "Decision" }).waitFor(T);
      return;
    }
    const next = page.getByRole("button", { name: "Next page" });
    if (!(await next.count())) throw new Error(`request ${requestId} is not in the inbox`);
    await next.click();
  }
  throw new Error("the inbox does not end");
}

async function decide(page, button, comment) {
  if (comment != null) await page.getByLabel(/^Comment/).fill(comment);
  await page.getByRole("button", { name: button, exact: true }).click();
}

const decisionText = (page) => page.getByTestId("decision-result");

/**
 * Throughput: P.n uploads of P.big with MD5 in workers and P.n with MD5 on
 * the page's thread, alternating, each in a fresh browser context (empty
 * IndexedDB); the time of each from its first Put Block request to its Put
 * Block List answer.
 */
scenarios.throughput = async () => {
  const ms = { workers: [], inline: [] };
  for (let i = 0; i < 2 * P.n; i++) {
    const variant = i % 2 ? "inline" : "workers";
    const page = await newPage(`throughput-${i}`);
    // The inline variant hashes on the page's thread (config md5Workers 0).
    await page.route((u) => u.pathname === "/config.json", async (route) => {
      const resp = await route.fetch();
      const cfg = await resp.json();
      if (variant === "inline") cfg.md5Workers = 0;
      return route.fulfill({ response: resp, json: cfg });
    });
    const st = watchStorage(page);
    await signIn(page, P.owner);
    await openProfile(page, P.profileId);
    await chooseFiles(page, [P.big]);
    await waitUploaded(page);
    check(st.commits === 1, `one Put Block List, got ${st.commits}`);
    ms[variant].push(st.lastCommitAt - st.firstAt);
    await page.context().close();
    pages.pop();
  }
  return { ms, bytes: (await stat(join(P.docs, P.big))).size };
};

/**
 * The README's screenshots (P.out): sign-in, an upload in progress (blocks
 * slowed down), the status waiting for approval, the inbox, the decision,
 * the outcome. Not a check of its own: the other scenarios are.
 */
scenarios.tour = async () => {
  const vp = { width: 820, height: 860 };
  const shot = (page, name) => page.screenshot({ path: join(P.out, `${name}.png`) });
  const req = await newPage("requester", vp);
  await req.goto(`${P.url}/#/signin`);
  await req.getByLabel("User (subject)").fill(P.owner);
  await shot(req, "1-signin");
  await req.getByRole("button", { name: "Sign in", exact: true }).click();
  await openProfile(req, P.profileId);
  await req.getByLabel("Marital status").selectOption("Married");
  let slow = true;
  await req.route((u) => u.searchParams.get("comp") === "block", async (route) => {
    if (slow) await new Promise((r) => setTimeout(r, 2500));
    return route.continue();
  });
  await chooseFiles(req, [P.big, P.png]);
  await req.getByRole("button", { name: "Pause upload" }).waitFor(T);
  await new Promise((r) => setTimeout(r, 3200));
  await req.locator("section.upload").scrollIntoViewIfNeeded();
  await shot(req, "2-upload");
  slow = false;
  await waitUploaded(req);
  await req.getByRole("button", { name: "Send code" }).click();
  await req.getByTestId("dev-code").waitFor(T);
  await req.locator("aside.dev").scrollIntoViewIfNeeded();
  await shot(req, "3-sms-pin");
  await req.getByLabel("Code from the SMS").fill(await req.getByTestId("dev-code").textContent());
  await req.getByRole("button", { name: "Submit change" }).click();
  await waitStage(req, "waitingForApproval");
  const id = requestIdOf(req);
  await shot(req, "4-status");
  const ap = await newPage("approver", vp);
  await signIn(ap, P.approver, { approver: true });
  await ap.getByTestId("inbox").waitFor(T);
  await shot(ap, "5-inbox");
  await openFromInbox(ap, id);
  await ap.getByLabel(/^Comment/).fill("Certificate matches the new status.");
  await shot(ap, "6-decision");
  await ap.getByRole("button", { name: "Approve", exact: true }).click();
  await waitStage(req, "applied");
  await req.evaluate(() => window.scrollTo(0, 0));
  await shot(req, "7-applied");
  return { requestId: id };
};

Object.assign(scenarios, {
  /**
   * The approver flow to Completed: the request is not in its own
   * requester's inbox and deciding it is refused (403); an approver finds it
   * in the inbox at 360 px, sees old → new, opens the clean document
   * through its read link, approves; the requester's status page shows the
   * change applied; rejecting it afterwards is refused (409).
   */
  async approve() {
    expected.push(/status of 403/, /status of 409/);
    const req = await submitForApproval("requester");
    const id = requestIdOf(req);

    const self = await newPage("self");
    await signIn(self, P.owner, { approver: true });
    await self.getByTestId("inbox").or(self.getByTestId("inbox-empty")).waitFor(T);
    check(await self.locator(`a[href="#/approval/${id}"]`).count() === 0, "the requester's own request is not in their inbox");
    await self.goto(`${P.url}/#/approval/${encodeURIComponent(id)}`);
    await decide(self, "Approve");
    await decisionText(self).getByText("You may not decide this request").waitFor(T);
    check((await decisionText(self).textContent()).includes("HTTP 403"), "own request: 403");

    const ap = await newPage("approver", { width: 360, height: 780 });
    // One task per inbox page: with the older request the test opened
    // through the API, the inbox has at least two pages.
    await ap.route((u) => u.pathname === "/config.json", async (route) => {
      const resp = await route.fetch();
      return route.fulfill({ response: resp, json: { ...(await resp.json()), inboxPageSize: 1 } });
    });
    await signIn(ap, P.approver, { approver: true });
    await ap.getByTestId("inbox").waitFor(T);
    check(await ap.locator("ul.inbox li").count() === 1, "one task per page");
    check(await ap.getByRole("button", { name: "Next page" }).count() === 1, "page 1 of several has a next page");
    check(await ap.getByRole("button", { name: "Previous page" }).count() === 0, "page 1 has no previous page");
    await ap.getByRole("button", { name: "Next page" }).click();
    await ap.getByText("Page 2").waitFor(T);
    check(await ap.locator("ul.inbox li").count() === 1, "one task on page 2");
    await ap.getByRole("button", { name: "Previous page" }).click();
    await ap.getByText("Page 1").waitFor(T);
    await openFromInbox(ap, id);
    await checkLayoutAndLabels(ap, "approval page");
    const row = ap.locator("table.changes tbody tr").first();
    const cells = await row.locator("th, td").allTextContents();
    check(cells.join("|") === "maritalStatus|Single|Married", `old → new: ${cells.join("|")}`);
    await ap.getByRole("button", { name: `Open ${P.small}` }).click();
    const save = ap.getByRole("link", { name: `Save ${P.small}` });
    await save.waitFor(T);
    const size = Number(await save.getAttribute("data-size"));
    const type = await save.getAttribute("data-type");
    check(size === P.smallSize && type === "application/pdf", `the document read through its link: ${size} bytes of ${type}, want ${P.smallSize} of application/pdf`);
    await decide(ap, "Approve", "certificate matches");
    await decisionText(ap).getByText("Approve: recorded").waitFor(T);

    await waitStage(req, "applied");
    const outcome = await req.getByTestId("outcome").textContent();
    check(/applied/.test(outcome), `requester sees the change applied: ${outcome}`);
    check(await req.getByTestId("decisions").getByText("certificate matches").count() === 1, "the approver's comment is shown to the requester");

    await ap.reload();
    await ap.getByRole("heading", { name: "Decision" }).waitFor(T);
    // The same approval again is a replay (200); any other decision on the
    // completed request is refused.
    await decide(ap, "Reject", "too late");
    await decisionText(ap).getByText("has no open task for you").waitFor(T);
    check((await decisionText(ap).textContent()).includes("HTTP 409"), "rejecting a completed request: 409");
    await openProfile(req, P.profileId);
    check(await req.locator('dd[data-field="maritalStatus"]').textContent() === "Married", "the profile shows the new marital status");
    return { requestId: id };
  },

  /**
   * A send-back answered: the approver sends the request back with a
   * comment (a comment is required); the requester sees it, answers with a
   * new document and a fresh PIN; the approver approves; Completed.
   */
  async sendback() {
    const req = await submitForApproval("requester");
    const id = requestIdOf(req);
    const ap = await newPage("approver");
    await signIn(ap, P.approver, { approver: true });
    await openFromInbox(ap, id);
    await decide(ap, "Send back");
    await decisionText(ap).getByText("needs a comment").waitFor(T);
    await decide(ap, "Send back", "Please add a photo of page 2");
    await decisionText(ap).getByText("Send back: recorded").waitFor(T);

    await waitStage(req, "sentBack");
    await req.getByTestId("decisions").getByText("Please add a photo of page 2").waitFor(T);
    const answer = req.locator("section.answer form.change");
    await answer.waitFor(T);
    await answer.getByLabel("Description").fill("Answered with page 2");
    await answer.getByLabel(/^Documents/).setInputFiles([join(P.docs, P.png)]);
    await answer.getByTestId("overall").filter({ hasText: "uploaded" }).waitFor({ timeout: 120_000 });
    await confirmAndSubmit(req, "Send answer");
    await waitStage(req, "waitingForApproval");
    check(requestIdOf(req) === id, "the answer continues the same request");
    const st = await statusOf(req, id);
    check(st.customStatus.attachments.some((a) => a.name === P.png && a.verdict === "clean"), `the new document is scanned clean: ${JSON.stringify(st.customStatus.attachments)}`);

    await ap.goto(`${P.url}/#/inbox`);
    await openFromInbox(ap, id);
    await decide(ap, "Approve", "complete now");
    await decisionText(ap).getByText("Approve: recorded").waitFor(T);
    await waitStage(req, "applied");
    const fin = await statusOf(req, id);
    check(fin.runtimeStatus === "Completed", `Completed, got ${fin.runtimeStatus}`);
    check(fin.history.some((e) => e.type === "RequestAnswered"), "the history records the answer");
    return { requestId: id };
  },
});

async function waitFor(cond, what, timeout = 60_000) {
  const end = Date.now() + timeout;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function saveArtifacts() {
  await mkdir(P.artifacts, { recursive: true });
  for (const [name, page] of pages) {
    try { await page.screenshot({ path: join(P.artifacts, `${name}.png`), fullPage: true }); } catch { /* page closed */ }
  }
  await writeFile(join(P.artifacts, "console.log"), consoleLines.join("\n") + "\n");
}

let code = 0;
try {
  const fn = scenarios[scenario];
  if (!fn) throw new Error(`unknown scenario ${scenario}; known: ${Object.keys(scenarios).join(", ")}`);
  const result = await fn();
  check(problems.length === 0, `console errors or warnings:\n${problems.join("\n")}`);
  log(`scenario ${scenario} passed`);
  console.log("RESULT " + JSON.stringify(result));
} catch (e) {
  code = 1;
  console.error(`scenario ${scenario} FAILED: ${e.stack || e}`);
  if (problems.length) console.error(`console problems:\n${problems.join("\n")}`);
  await saveArtifacts();
  console.error(`artifacts: ${P.artifacts}`);
} finally {
  await browser.close();
}
process.exit(code);
