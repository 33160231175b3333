// The approver's pages: the inbox of open tasks (paged) and a request's
// detail with the change (old → new), its clean documents and the decision
// (approve, reject, send back with a comment).
import { ApiError } from "./api.js";
import { h, fill, field, announce } from "./dom.js";
import { changeTable, docButton, formatBytes, stageText } from "./requester.js";

// Tasks per inbox page: config.json's inboxPageSize (1–100), default 10.
const pageSize = (app) => Math.min(100, Math.max(1, app.config.inboxPageSize || 10));
const CACHE = "profileflow.inbox";

function errorBox(msg) {
  return h("p", { class: "error", role: "alert" }, msg);
}

function remember(items) {
  const m = JSON.parse(sessionStorage.getItem(CACHE) || "{}");
  for (const it of items) m[it.requestId] = it;
  sessionStorage.setItem(CACHE, JSON.stringify(m));
}

function age(seconds) {
  if (seconds == null) return "";
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

/** #/inbox: the open tasks the caller may decide, oldest first, paged. */
export async function inboxPage(app, main, tokens = [""]) {
  const tok = tokens[tokens.length - 1];
  fill(main, h("h1", {}, "Approvals"), h("p", {}, "Loading…"));
  let page;
  try {
    ({ body: page } = await app.api.approvals(pageSize(app), tok));
  } catch (e) {
    const msg = e instanceof ApiError && e.status === 403
      ? "Only approvers have an inbox: sign in with the ProfileApprover role."
      : `The inbox could not be loaded: ${e.message}`;
    fill(main, h("h1", {}, "Approvals"), errorBox(msg));
    return;
  }
  const items = page.items || [];
  remember(items);
  const list = items.length
    ? h("ul", { class: "inbox", "data-testid": "inbox" }, items.map((it) => h("li", {},
      h("a", { href: `#/approval/${encodeURIComponent(it.requestId)}` }, `${(it.change || []).map((c) => c.field).join(", ") || "change"} of profile ${it.profileId}`),
      h("span", { class: "meta" }, ` — ${it.name || it.task}, by ${it.requester}, waiting ${age(it.ageSeconds)}`,
        it.due ? `, escalates ${new Date(it.due).toLocaleString()}` : ""))))
    : h("p", { "data-testid": "inbox-empty" }, "Nothing is waiting for you.");
  const nav = h("div", { class: "pager" },
    tokens.length > 1 ? h("button", { type: "button", onclick: () => inboxPage(app, main, tokens.slice(0, -1)) }, "Previous page") : null,
    page.continuationToken ? h("button", { type: "button", onclick: () => inboxPage(app, main, [...tokens, page.continuationToken]) }, "Next page") : null,
    h("button", { type: "button", onclick: () => inboxPage(app, main, tokens) }, "Refresh"));
  fill(main, h("h1", {}, "Approvals"), h("p", { class: "hint" }, `Page ${tokens.length}`), list, nav);
  announce(`${items.length} request(s) on this page`);
}

const MESSAGES = {
  409: "This request has no open task for you any more: another approver decided it, it was escalated, cancelled or it ended.",
  403: "You may not decide this request: it is your own, you are not in the group of its open task, or you already approved it.",
  404: "This request does not exist or is not visible to you.",
};

/** #/approval/{requestId}: the detail and the decision. */
export async function approvalPage(app, main, requestId) {
  // The inbox item (when opened from the inbox) names the requester and the
  // task; the status record is read fresh for the change, the documents and
  // their read links, since the request may have moved on (a send-back
  // answered, another approver's decision).
  const cached = JSON.parse(sessionStorage.getItem(CACHE) || "{}")[requestId] || {};
  let st;
  try {
    ({ body: st } = await app.api.status(`/api/v1/requests/${encodeURIComponent(requestId)}`));
  } catch (e) {
    fill(main, h("h1", {}, "Approval"), errorBox(MESSAGES[e.status] || e.message));
    return;
  }
  const open = st.customStatus?.openTasks || [];
  const item = {
    ...cached, requestId, profileId: st.input?.profileId || cached.profileId,
    change: st.input?.changes || cached.change || [], attachments: st.customStatus?.attachments || [],
    name: open.map((t) => t.name || t.element).join(", "),
  };
  // The decision names the work item the approver is looking at, so it
  // never lands on a level that opened meanwhile (the API refuses a blind
  // decision on a level just opened).
  const approvals = open.filter((t) => t.performer !== "requester");
  const taskId = approvals.some((t) => t.id === cached.taskId) ? cached.taskId
    : approvals.length === 1 ? approvals[0].id : undefined;
  const comment = h("textarea", { name: "comment", rows: 3, maxlength: 1000 });
  const result = h("div", { "aria-live": "assertive", "data-testid": "decision-result" });
  const buttons = [];
  const decide = async (action, label) => {
    fill(result);
    if (action !== "approve" && !comment.value.trim()) {
      fill(result, errorBox(`${label} needs a comment for the requester.`));
      comment.focus();
      return;
    }
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const { body: after } = await app.api.decide(requestId, action, comment.value.trim(), taskId);
      fill(result, h("p", { class: "ok", role: "status" }, `${label}: recorded. The request is now: ${stageText(after.customStatus?.stage)} (${after.runtimeStatus}).`));
      announce(`${label}: recorded`);
    } catch (e) {
      buttons.forEach((b) => { b.disabled = false; });
      fill(result, errorBox(e instanceof ApiError && MESSAGES[e.status] ? `${MESSAGES[e.status]} (HTTP ${e.status})` : `Not recorded: ${e.message}`));
    }
  };
  for (const [action, label, cls] of [["approve", "Approve", "primary"], ["reject", "Reject", "danger"], ["send-back", "Send back", ""]]) {
    buttons.push(h("button", { type: "button", class: cls, onclick: () => decide(action, label) }, label));
  }
  const docs = item.attachments || [];
  fill(main,
    h("h1", {}, `Change of profile ${item.profileId || ""}`),
    h("p", {}, item.requester ? `Requested by ${item.requester}. ` : "", item.name ? `Task: ${item.name}. ` : "",
      `Status: ${stageText(st.customStatus?.stage)}. `,
      h("a", { href: `#/request/${encodeURIComponent(requestId)}` }, "Full status")),
    h("h2", {}, "Change"), changeTable(item.change || []),
    h("h2", {}, "Documents"),
    docs.length ? h("ul", { class: "docs" }, docs.map((a) => h("li", {}, `${a.name} (${formatBytes(a.size)}, ${a.verdict}) `, a.link ? docButton(app, a) : h("em", {}, "no link: not clean")))) : h("p", {}, "None."),
    h("h2", {}, "Decision"),
    field("Comment (required to reject or send back)", comment),
    h("div", { class: "actions" }, buttons),
    result);
}
