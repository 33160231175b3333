// The profileflow API (v1) as the UI calls it: JSON in and out, the bearer
// token of the signed-in user, errors as ApiError with the HTTP status and
// the server's message ({"Status":"Rejected","error":"…"} or
// {"error":{"code","message"}}).

export class ApiError extends Error {
  constructor(status, message, body, headers) {
    super(message);
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** Extracts the server's error text from an error body. */
export function errorText(body, status) {
  if (body && typeof body.error === "string") return body.error;
  if (body && body.error && typeof body.error.message === "string") return body.error.message;
  return `the server answered HTTP ${status}`;
}

export class Api {
  /**
   * @param {string} base API origin ("" = this site's origin)
   * @param {() => Promise<string>} token the bearer token of the user
   */
  constructor(base, token) {
    this.base = base;
    this.token = token;
  }

  /**
   * Sends one call; resolves {status, body, headers} for 2xx, rejects with
   * ApiError otherwise (or TypeError when the network failed).
   */
  async call(method, path, { body, headers = {}, signal } = {}) {
    const h = { Accept: "application/json", ...headers };
    const tok = await this.token();
    if (tok) h.Authorization = `Bearer ${tok}`;
    let payload;
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const resp = await fetch(this.base + path, { method, headers: h, body: payload, signal, cache: "no-store" });
    const text = await resp.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch { data = { raw: text }; }
    }
    if (!resp.ok) throw new ApiError(resp.status, errorText(data, resp.status), data, resp.headers);
    return { status: resp.status, body: data, headers: resp.headers };
  }

  profile(id) { return this.call("GET", `/api/v1/profile/${encodeURIComponent(id)}`); }
  challenge(profileId) { return this.call("POST", "/api/v1/mfa/challenge", { body: { profileId } }); }
  verify(challengeId, code) { return this.call("POST", "/api/v1/mfa/verify", { body: { challengeId, code } }); }
  startUpload(profileId, files) {
    return this.call("POST", `/api/v1/profile/${encodeURIComponent(profileId)}/uploads`, { body: { files } });
  }
  uploadState(profileId, uploadId) {
    return this.call("GET", `/api/v1/profile/${encodeURIComponent(profileId)}/uploads/${encodeURIComponent(uploadId)}`);
  }
  submit(profileId, change, mfaToken, idempotencyKey) {
    return this.call("PATCH", `/api/v1/profile/${encodeURIComponent(profileId)}`, {
      body: change, headers: { "X-MFA-Token": mfaToken, "Idempotency-Key": idempotencyKey },
    });
  }
  /** GET of a status URL ("/api/v1/requests/{id}"), 200 or 202. */
  status(url, signal) { return this.call("GET", url, { signal }); }
  cancel(requestId, comment) {
    return this.call("POST", `/api/v1/requests/${encodeURIComponent(requestId)}/cancel`, { body: comment ? { comment } : {} });
  }
  approvals(pageSize, continuationToken) {
    const q = new URLSearchParams({ pageSize: String(pageSize) });
    if (continuationToken) q.set("continuationToken", continuationToken);
    return this.call("GET", `/api/v1/approvals?${q}`);
  }
  /** action: "approve" | "reject" | "send-back". */
  decide(requestId, action, comment, taskId) {
    const body = {};
    if (comment) body.comment = comment;
    if (taskId) body.taskId = taskId;
    return this.call("POST", `/api/v1/requests/${encodeURIComponent(requestId)}/${action}`, { body });
  }

  /**
   * Reads a document through its read link (the API redirects to a
   * short-lived read URL of the clean copy) and returns it as a Blob.
   */
  async document(link) {
    const tok = await this.token();
    const resp = await fetch(this.base + link, { headers: { Authorization: `Bearer ${tok}` }, cache: "no-store" });
    if (!resp.ok) {
      let data = null;
      try { data = await resp.json(); } catch { /* not JSON: storage's XML error */ }
      throw new ApiError(resp.status, errorText(data, resp.status), data, resp.headers);
    }
    return resp.blob();
  }
}

/**
 * How long to wait before the next status poll: the server's Retry-After
 * (seconds) when given, else the backoff doubled from 1 s up to 10 s.
 */
export function nextPollDelay(headers, previousMs) {
  const ra = headers && headers.get ? headers.get("Retry-After") : null;
  if (ra && /^\d+$/.test(ra.trim())) return Math.min(Number(ra) * 1000, 30000);
  return Math.min(previousMs ? previousMs * 2 : 1000, 10000);
}
