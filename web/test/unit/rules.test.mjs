// Unit tests of the client-side rules: document checks before an upload and
// the status polling delay (node --test).
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkFiles, MAX_SIZE } from "../../src/requester.js";
import { nextPollDelay, errorText } from "../../src/api.js";

const f = (name, type, size) => ({ name, type, size });

test("checkFiles", () => {
  for (const [name, files, want] of [
    ["one pdf", [f("a.pdf", "application/pdf", 10)], []],
    ["pdf and png at the limit", [f("a.PDF", "application/pdf", MAX_SIZE), f("b.png", "image/png", 1)], []],
    ["jpeg as .jpg and .jpeg", [f("a.jpg", "image/jpeg", 1), f("b.jpeg", "image/jpeg", 1)], []],
    ["three files", [f("a.pdf", "application/pdf", 1), f("b.pdf", "application/pdf", 1), f("c.pdf", "application/pdf", 1)], [/at most 2/]],
    ["over 25 MiB", [f("a.pdf", "application/pdf", MAX_SIZE + 1)], [/over the limit of 25 MiB/]],
    ["empty", [f("a.pdf", "application/pdf", 0)], [/empty/]],
    ["other type", [f("a.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 5)], [/only PDF, PNG or JPEG/]],
    ["no type (the browser did not know it)", [f("a.pdf", "", 5)], [/only PDF, PNG or JPEG/]],
    ["extension does not match", [f("a.png", "application/pdf", 5)], [/extension \.png does not match/]],
    ["no extension", [f("scan", "image/png", 5)], [/extension \(none\)/]],
  ]) {
    const got = checkFiles(files);
    assert.equal(got.length, want.length, `${name}: ${got}`);
    want.forEach((re, i) => assert.match(got[i], re, name));
  }
});

test("nextPollDelay honours Retry-After, else backs off from 1 s to 10 s", () => {
  const hdr = (v) => new Headers(v == null ? {} : { "Retry-After": v });
  for (const [name, h, prev, want] of [
    ["Retry-After 5", hdr("5"), 0, 5000],
    ["Retry-After wins over the backoff", hdr("2"), 8000, 2000],
    ["Retry-After capped at 30 s", hdr("3600"), 0, 30000],
    ["first without", hdr(null), 0, 1000],
    ["doubles", hdr(null), 1000, 2000],
    ["capped at 10 s", hdr(null), 8000, 10000],
    ["an HTTP date is not seconds", hdr("Wed, 21 Oct 2026 07:28:00 GMT"), 4000, 8000],
    ["no headers (network error)", undefined, 2000, 4000],
  ]) assert.equal(nextPollDelay(h, prev), want, name);
});

test("errorText reads both error shapes", () => {
  assert.equal(errorText({ Status: "Rejected", error: "no change" }, 400), "no change");
  assert.equal(errorText({ error: { code: "Conflict", message: "already decided" } }, 409), "already decided");
  assert.equal(errorText(null, 502), "the server answered HTTP 502");
});
