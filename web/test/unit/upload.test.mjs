// Unit tests of the upload module over a fake XMLHttpRequest (node --test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { UploadSession, md5Base64, retryable, formatBytes, formatDuration } from "../../src/upload.js";

/** A fake storage behind XMLHttpRequest: records every PUT; answer(req) decides the status. */
function fakeStorage(answer = () => 201) {
  const reqs = [];
  class FakeXHR {
    constructor() { this.headers = {}; this.upload = {}; }
    open(method, url) { this.method = method; this.url = url; }
    setRequestHeader(k, v) { this.headers[k] = v; }
    getResponseHeader(k) { return k === "x-ms-error-code" && this.status >= 400 ? "ServerBusy" : null; }
    abort() { this.aborted = true; this.onabort?.(); }
    async send(body) {
      const req = { url: new URL(this.url), headers: this.headers, body: typeof body === "string" ? body : Buffer.from(await body.arrayBuffer()) };
      reqs.push(req);
      const status = await answer(req, this);
      if (this.aborted) return;
      if (status === "hang") return;
      if (status === 0) return this.onerror?.();
      this.status = status;
      this.upload.onprogress?.({ loaded: req.body.length });
      this.onload?.();
    }
  }
  globalThis.XMLHttpRequest = FakeXHR;
  return reqs;
}

function planFor(data, blockSize, name = "a.pdf") {
  const count = Math.ceil(data.length / blockSize);
  return {
    name, contentType: "application/pdf", size: data.length, uploadUrl: `https://acct.example/incoming/u1/0-${name}?sig=x`,
    blockSize, blockCount: count, blockIds: Array.from({ length: count }, (_, i) => Buffer.from(`id-${i}`).toString("base64")),
    requiredHeaders: { "x-ms-blob-content-type": "application/pdf" },
  };
}

const bytes = (n) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) % 251));
const blocks = (reqs) => reqs.filter((r) => r.url.searchParams.get("comp") === "block");
const commits = (reqs) => reqs.filter((r) => r.url.searchParams.get("comp") === "blocklist");

test("every block is put with its Content-MD5, then one block list in plan order", async () => {
  const reqs = fakeStorage();
  const data = bytes(10_000);
  const plan = planFor(data, 4096);
  const s = new UploadSession({ files: [{ file: new Blob([data]), plan }], backoffMs: 1 });
  assert.equal(await s.start(), true);
  const b = blocks(reqs);
  assert.equal(b.length, 3);
  for (const r of b) {
    const i = plan.blockIds.indexOf(r.url.searchParams.get("blockid"));
    const want = data.subarray(i * 4096, Math.min(data.length, (i + 1) * 4096));
    assert.deepEqual(r.body, want);
    assert.equal(r.headers["Content-MD5"], createHash("md5").update(want).digest("base64"));
  }
  const c = commits(reqs);
  assert.equal(c.length, 1);
  assert.equal(c[0].body, '<?xml version="1.0" encoding="utf-8"?><BlockList>' + plan.blockIds.map((id) => `<Latest>${id}</Latest>`).join("") + "</BlockList>");
  assert.equal(c[0].headers["x-ms-blob-content-type"], "application/pdf");
  assert.equal(s.progress().done, data.length);
});

test("staged blocks and committed files are not sent again", async () => {
  const reqs = fakeStorage();
  const data = bytes(10_000);
  const p1 = planFor(data, 4096, "a.pdf");
  const p2 = planFor(data, 4096, "b.pdf");
  const s = new UploadSession({ files: [
    { file: new Blob([data]), plan: p1, staged: [p1.blockIds[0], p1.blockIds[2]] },
    { file: new Blob([data]), plan: p2, committed: true },
  ] });
  assert.equal(await s.start(), true);
  assert.deepEqual(blocks(reqs).map((r) => r.url.searchParams.get("blockid")), [p1.blockIds[1]]);
  assert.equal(commits(reqs).length, 1);
  assert.equal(s.blocksSent, 1);
});

test("retryable failures are retried; others stop the upload with the error", async (t) => {
  for (const tc of [
    { name: "503 once", fail: [503], ok: true, sends: 4 },
    { name: "network error once", fail: [0], ok: true, sends: 4 },
    { name: "500 every time", fail: [500, 500, 500, 500, 500], ok: false, sends: 2 + 5 },
    { name: "403 (SAS expired)", fail: [403], ok: false, sends: 3 },
  ]) {
    await t.test(tc.name, async () => {
      const failures = [...tc.fail];
      const reqs = fakeStorage((r) => (r.url.searchParams.get("blockid") === Buffer.from("id-1").toString("base64") && failures.length ? failures.shift() : 201));
      const data = bytes(10_000);
      const s = new UploadSession({ files: [{ file: new Blob([data]), plan: planFor(data, 4096) }], backoffMs: 1, retries: 4 });
      if (tc.ok) {
        assert.equal(await s.start(), true);
        assert.equal(commits(reqs).length, 1);
      } else {
        await assert.rejects(s.start(), /HTTP/);
        assert.equal(commits(reqs).length, 0);
        assert.match(s.progress().files[0].error, new RegExp(`^block 1 of a\\.pdf failed after ${tc.fail.length} attempt\\(s\\): storage: HTTP ${tc.fail[0]}`));
        assert.equal(s.progress().paused, true);
      }
      assert.equal(blocks(reqs).length, tc.sends);
    });
  }
});

test("pause aborts what is in flight; start resumes with the unstaged blocks only", async () => {
  let hold = true;
  const reqs = fakeStorage((r) => (hold && r.url.searchParams.get("blockid") !== Buffer.from("id-0").toString("base64") ? "hang" : 201));
  const data = bytes(20_000);
  const plan = planFor(data, 4096);
  const s = new UploadSession({ files: [{ file: new Blob([data]), plan }], concurrency: 2 });
  const run = s.start();
  while (blocks(reqs).length < 3) await new Promise((r) => setTimeout(r, 1));
  s.pause();
  assert.equal(await run, false);
  assert.equal(commits(reqs).length, 0);
  const before = blocks(reqs).length;
  hold = false;
  assert.equal(await s.start(), true);
  const after = blocks(reqs).slice(before).map((r) => r.url.searchParams.get("blockid"));
  assert.equal(after.includes(plan.blockIds[0]), false, "the staged block is not sent again");
  assert.equal(after.length, plan.blockCount - 1);
  assert.equal(commits(reqs).length, 1);
});

test("md5Base64 is storage's Content-MD5", () => {
  for (const n of [0, 1, 64, 4097]) {
    const b = bytes(n);
    assert.equal(md5Base64(b.buffer.slice(b.byteOffset, b.byteOffset + n)), createHash("md5").update(b).digest("base64"));
  }
});

test("retryable statuses", () => {
  for (const [s, want] of [[0, true], [408, true], [429, true], [500, true], [503, true], [400, false], [403, false], [404, false], [409, false], [413, false]]) {
    assert.equal(retryable(s), want, String(s));
  }
});

test("formatting", () => {
  for (const [n, want] of [[0, "0 B"], [999, "999 B"], [1000, "1.0 kB"], [26_214_400, "26 MB"], [2_500_000_000, "2.5 GB"]]) assert.equal(formatBytes(n), want);
  for (const [s, want] of [[null, "—"], [Infinity, "—"], [0.4, "0 s"], [59, "59 s"], [65, "1 min 5 s"]]) assert.equal(formatDuration(s), want);
});
