// Direct-to-blob upload by the API's plan (POST …/uploads answers per file a
// SAS URL for that one blob, the block size and the deterministic block
// ids): Put Block of each block that is not staged yet (several in flight,
// each with Content-MD5), retried with backoff when storage or the network
// fails, then Put Block List with the plan's required headers
// (x-ms-blob-content-type). Blocks are File.slice() Blobs, which browsers
// send without copying; the MD5 is computed from the same slice.
// Progress per file and overall, with the speed over the last seconds and
// the time left, is reported through onChange.
import { md5Base64, md5Inline } from "./md5.js";

export { md5Base64 };

/** Statuses (and 0: the network failed) worth another attempt. */
export function retryable(status) {
  return status === 0 || status === 408 || status === 429 || status >= 500;
}

function withQuery(url, extra) {
  return url + (url.includes("?") ? "&" : "?") + extra;
}

export class BlockError extends Error {
  constructor(op, status, code, detail) {
    super(`${op}: ${status ? "HTTP " + status : "network error"}${code ? " " + code : ""}${detail ? " (" + detail + ")" : ""}`);
    this.status = status;
    this.code = code;
  }
}

class Paused extends Error {}

/** One PUT to storage through XMLHttpRequest (upload progress, abort). */
function put(url, body, headers, onProgress, registerAbort) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (onProgress) xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr);
      else reject(new BlockError("storage", xhr.status, xhr.getResponseHeader("x-ms-error-code") || ""));
    };
    xhr.onerror = () => reject(new BlockError("storage", 0, ""));
    xhr.onabort = () => reject(new Paused("paused"));
    registerAbort(() => xhr.abort());
    xhr.send(body);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * An upload of up to two files by their plans.
 * files: [{file: File|Blob, plan: FilePlan, staged: string[] (block ids
 * the server already holds), committed: boolean}]
 */
export class UploadSession {
  /**
   * hash: Blob → Promise<base64 MD5> (a worker pool in the page, md5Inline
   * by default); concurrency: blocks in flight; retries: extra attempts of a
   * block or commit; backoffMs: first retry delay, doubled each time.
   */
  constructor({ files, concurrency = 4, retries = 4, backoffMs = 300, hash = md5Inline, onChange = () => {}, onEvent = () => {} }) {
    this.hash = hash;
    this.files = files.map((f) => ({
      ...f,
      staged: new Set(f.staged || []),
      committed: !!f.committed,
      inflight: new Map(), // block index → bytes sent so far
      error: null,
    }));
    this.concurrency = concurrency;
    this.retries = retries;
    this.backoffMs = backoffMs;
    this.onChange = onChange;
    this.onEvent = onEvent;
    this.paused = false;
    this.aborts = new Set();
    this.samples = []; // [time ms, bytes sent this session]
    this.sent = 0;
    this.blocksSent = 0;
    this.retriesDone = 0;
    this.running = null;
  }

  /** Bytes of block i of a file. */
  static blockLen(plan, i) {
    return Math.min(plan.size, (i + 1) * plan.blockSize) - i * plan.blockSize;
  }

  fileDone(f) {
    if (f.committed) return f.plan.size;
    let n = 0;
    f.plan.blockIds.forEach((id, i) => { if (f.staged.has(id)) n += UploadSession.blockLen(f.plan, i); });
    for (const v of f.inflight.values()) n += v;
    return Math.min(n, f.plan.size);
  }

  /**
   * Progress: per file {name, done, total, committed, error} and overall
   * {done, total, speed (bytes/s over the last 5 s, 0 when unknown), eta
   * (seconds, null when unknown)}.
   */
  progress() {
    const files = this.files.map((f) => ({ name: f.plan.name, done: this.fileDone(f), total: f.plan.size, committed: f.committed, error: f.error }));
    const done = files.reduce((a, f) => a + f.done, 0);
    const total = files.reduce((a, f) => a + f.total, 0);
    const now = performance.now();
    this.samples.push([now, this.sent + this.inflightBytes()]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 5000) this.samples.shift();
    let speed = 0;
    const [t0, b0] = this.samples[0];
    if (now - t0 > 250) speed = ((this.sent + this.inflightBytes() - b0) * 1000) / (now - t0);
    const eta = speed > 0 && !this.paused ? (total - done) / speed : null;
    return { files, done, total, speed, eta, paused: this.paused };
  }

  inflightBytes() {
    let n = 0;
    for (const f of this.files) for (const v of f.inflight.values()) n += v;
    return n;
  }

  changed() { this.onChange(this.progress()); }

  /** Stops every request in flight; start() then resolves with false. */
  pause() {
    this.paused = true;
    for (const a of this.aborts) a();
    this.aborts.clear();
    this.changed();
  }

  /**
   * Uploads what is left and commits each file. Resolves true when every
   * file is committed, false when paused; rejects with the last error when
   * a block or commit failed on every attempt.
   */
  start() {
    if (this.running) return this.running;
    this.paused = false;
    for (const f of this.files) f.error = null;
    this.running = this.run().finally(() => { this.running = null; });
    return this.running;
  }

  async run() {
    const queue = [];
    for (const f of this.files) {
      if (f.committed) continue;
      f.plan.blockIds.forEach((id, i) => { if (!f.staged.has(id)) queue.push([f, i]); });
    }
    const tick = setInterval(() => this.changed(), 500);
    try {
      const worker = async () => {
        while (queue.length && !this.paused) {
          const [f, i] = queue.shift();
          await this.putBlock(f, i);
        }
      };
      await Promise.all(Array.from({ length: this.concurrency }, worker));
      if (this.paused) return false;
      for (const f of this.files) {
        if (!f.committed) await this.commit(f);
      }
      return !this.paused;
    } catch (e) {
      if (e instanceof Paused || this.paused) return false;
      this.pause();
      throw e;
    } finally {
      clearInterval(tick);
      this.changed();
    }
  }

  async attempt(op, f, fn) {
    for (let k = 0; ; k++) {
      if (this.paused) throw new Paused("paused");
      try {
        return await fn();
      } catch (e) {
        if (e instanceof Paused || this.paused) throw new Paused("paused");
        if (!(e instanceof BlockError) || !retryable(e.status) || k >= this.retries) {
          f.error = `${op} failed after ${k + 1} attempt(s): ${e.message}`;
          const err = new Error(f.error);
          err.status = e.status;
          throw err;
        }
        this.retriesDone++;
        this.onEvent({ type: "retry", op, attempt: k + 1, status: e.status });
        await sleep(this.backoffMs * 2 ** k);
      }
    }
  }

  async putBlock(f, i) {
    const { plan } = f;
    const start = i * plan.blockSize;
    const slice = f.file.slice(start, start + UploadSession.blockLen(plan, i));
    const md5 = await this.hash(slice);
    const url = withQuery(plan.uploadUrl, "comp=block&blockid=" + encodeURIComponent(plan.blockIds[i]));
    await this.attempt(`block ${i} of ${plan.name}`, f, async () => {
      f.inflight.set(i, 0);
      try {
        await put(url, slice, { "Content-MD5": md5 }, (n) => f.inflight.set(i, n), (a) => this.aborts.add(a));
      } finally {
        f.inflight.delete(i);
      }
    });
    f.staged.add(plan.blockIds[i]);
    this.sent += slice.size;
    this.blocksSent++;
    this.changed();
  }

  async commit(f) {
    const { plan } = f;
    const body = '<?xml version="1.0" encoding="utf-8"?><BlockList>' + plan.blockIds.map((id) => `<Latest>${id}</Latest>`).join("") + "</BlockList>";
    const headers = { "Content-Type": "application/xml", ...(plan.requiredHeaders || {}) };
    if (!Object.keys(headers).some((k) => k.toLowerCase() === "x-ms-blob-content-type")) headers["x-ms-blob-content-type"] = plan.contentType;
    await this.attempt(`commit of ${plan.name}`, f, () => put(withQuery(plan.uploadUrl, "comp=blocklist"), body, headers, null, (a) => this.aborts.add(a)));
    f.committed = true;
    this.onEvent({ type: "committed", name: plan.name });
    this.changed();
  }
}

/** "12.3 MB" style size (SI units, as storage and browsers show them). */
export function formatBytes(n) {
  if (n < 1000) return `${n} B`;
  const u = ["kB", "MB", "GB"];
  let i = -1;
  do { n /= 1000; i++; } while (n >= 1000 && i < u.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${u[i]}`;
}

/** "1 min 5 s" / "12 s" for a number of seconds. */
export function formatDuration(s) {
  if (s == null || !isFinite(s)) return "—";
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}
