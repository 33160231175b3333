// The profileflow web UI: loads config.json (API base, sign-in settings),
// signs in, and routes between the pages by the URL's hash:
//   #/signin  #/profile  #/request/{id}  #/inbox  #/approval/{id}
import { Api } from "./api.js";
import { makeAuth } from "./auth.js";
import { h, fill, field } from "./dom.js";
import { profilePage, requestPage } from "./requester.js";
import { inboxPage, approvalPage } from "./approver.js";

class App {
  constructor(config) {
    this.config = config;
    this.auth = makeAuth(config);
    this.api = new Api(config.apiBase || "", () => this.auth.token());
    this.main = document.getElementById("main");
    this.nav = document.getElementById("nav");
    this.leave = [];
    this.marks = {};
  }

  session() { return this.auth.session(); }

  /** The profile the requester works on: chosen once, else the digits of the subject (user-1000 → 1000). */
  profileId() {
    const saved = localStorage.getItem("profileflow.profileId");
    if (saved) return saved;
    const m = (this.session()?.sub || "").match(/(\d+)$/);
    return m ? m[1] : "";
  }

  setProfileId(id) { localStorage.setItem("profileflow.profileId", id); }

  /** Records when something happened (performance.now()), for measurements. */
  mark(name) {
    this.marks[name] = performance.now();
    performance.mark(`profileflow:${name}`);
  }

  onLeave(fn) { this.leave.push(fn); }

  go(hash) {
    if (location.hash === hash) this.render();
    else location.hash = hash;
  }

  renderNav() {
    const s = this.session();
    const links = [];
    if (s) {
      links.push(h("a", { href: "#/profile" }, "My profile"));
      if ((s.roles || []).includes("ProfileApprover")) links.push(h("a", { href: "#/inbox" }, "Approvals"));
      links.push(h("span", { class: "who" }, s.name || s.sub));
      links.push(h("button", { type: "button", onclick: () => { this.auth.signOut(); localStorage.removeItem("profileflow.profileId"); this.go("#/signin"); } }, "Sign out"));
    }
    fill(this.nav, links);
  }

  async render() {
    for (const fn of this.leave.splice(0)) fn();
    this.renderNav();
    const [, page, arg] = (location.hash || "#/").match(/^#\/([^/]*)\/?(.*)$/) || [];
    const s = this.session();
    if (!s && page !== "signin") return this.go("#/signin");
    const id = arg ? decodeURIComponent(arg) : "";
    switch (page) {
      case "signin": return this.signinPage();
      case "request": return requestPage(this, this.main, id);
      case "inbox": return inboxPage(this, this.main);
      case "approval": return approvalPage(this, this.main, id);
      case "profile": return profilePage(this, this.main);
      default:
        return this.go((s.roles || []).includes("ProfileApprover") ? "#/inbox" : "#/profile");
    }
  }

  signinPage() {
    if (this.auth.mode === "msal") {
      fill(this.main, h("h1", {}, "Sign in"),
        h("button", { type: "button", class: "primary", onclick: () => this.auth.signIn() }, "Sign in with your organisation account"));
      return;
    }
    const sub = h("input", { type: "text", name: "sub", value: "user-1000", autocomplete: "username", required: true });
    const approver = h("input", { type: "checkbox", name: "approver" });
    const groups = h("input", { type: "text", name: "groups", value: "" });
    const err = h("div", { "aria-live": "assertive" });
    approver.addEventListener("change", () => { if (approver.checked && !groups.value) groups.value = "ProfileApprover"; });
    const form = h("form", { onsubmit: async (e) => {
      e.preventDefault();
      try {
        const roles = approver.checked ? ["ProfileApprover"] : [];
        await this.auth.signIn({ sub: sub.value.trim(), roles, groups: groups.value.split(",").map((g) => g.trim()).filter(Boolean) });
        localStorage.removeItem("profileflow.profileId");
        this.go(roles.length ? "#/inbox" : "#/profile");
      } catch (ex) {
        fill(err, h("p", { class: "error", role: "alert" }, ex.message));
      }
    } },
    field("User (subject)", sub, "Sample users: user-1000 … user-1009 own profiles 1000 … 1009."),
    h("div", { class: "field check" }, approver, h("label", { for: (approver.id = "approver") }, "Approver (role ProfileApprover)")),
    field("Groups (comma-separated)", groups),
    h("button", { type: "submit", class: "primary" }, "Sign in"), err);
    fill(this.main, h("h1", {}, "Sign in (local development issuer)"),
      h("p", { class: "note" }, "Local only: this mints a token at the development host for the user you choose."), form);
  }
}

async function boot() {
  const main = document.getElementById("main");
  try {
    const resp = await fetch("config.json", { cache: "no-store" });
    if (!resp.ok) throw new Error(`config.json: HTTP ${resp.status}`);
    const app = new App(await resp.json());
    await app.auth.init();
    window.addEventListener("hashchange", () => { app.render(); main.focus(); });
    window.profileflow = app; // tests and the console read app.marks
    await app.render();
  } catch (e) {
    fill(main, h("p", { class: "error", role: "alert" }, `The site could not start: ${e.message}`));
  }
}

boot();
