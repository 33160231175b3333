// Sign-in. Two modes, chosen by config.json's auth.mode:
//  - "msal": Entra ID through @azure/msal-browser (redirect flow), the
//    access token for config.auth.scopes;
//  - "dev": the local development issuer of the development host
//    (POST /dev/token mints a token for a chosen user, roles and groups);
//    never in Azure, where /dev does not exist.
// The session (token, subject, roles, expiry) lives in sessionStorage, so it
// ends with the tab.
import { PublicClientApplication, InteractionRequiredAuthError } from "@azure/msal-browser";

const KEY = "profileflow.session";

function decodeClaims(jwt) {
  const part = jwt.split(".")[1] || "";
  const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const json = decodeURIComponent(Array.from(atob(b64), (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join(""));
  return JSON.parse(json);
}

function sessionFromToken(token) {
  const c = decodeClaims(token);
  return { token, sub: c.sub, name: c.name || c.preferred_username || c.sub, roles: c.roles || [], groups: c.groups || [], exp: c.exp };
}

export class DevAuth {
  constructor(base) { this.base = base; this.mode = "dev"; }

  async init() {}

  session() {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw);
    if (!s.exp || s.exp * 1000 < Date.now() + 30000) {
      sessionStorage.removeItem(KEY);
      return null;
    }
    return s;
  }

  /** Mints a token for sub with roles and groups at the dev issuer. */
  async signIn({ sub, roles, groups }) {
    const resp = await fetch(this.base + "/dev/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sub, roles, groups }),
    });
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok || !body.access_token) throw new Error(body.error || `sign-in failed (HTTP ${resp.status})`);
    const s = sessionFromToken(body.access_token);
    sessionStorage.setItem(KEY, JSON.stringify(s));
    return s;
  }

  async token() {
    const s = this.session();
    return s ? s.token : "";
  }

  signOut() { sessionStorage.removeItem(KEY); }
}

export class MsalAuth {
  constructor(cfg) {
    this.mode = "msal";
    this.scopes = cfg.scopes || [];
    this.app = new PublicClientApplication({
      auth: { clientId: cfg.clientId, authority: cfg.authority, redirectUri: cfg.redirectUri || window.location.origin + "/" },
      cache: { cacheLocation: "sessionStorage" },
    });
  }

  async init() {
    await this.app.initialize();
    const res = await this.app.handleRedirectPromise();
    if (res && res.account) this.app.setActiveAccount(res.account);
    if (!this.app.getActiveAccount()) {
      const all = this.app.getAllAccounts();
      if (all.length) this.app.setActiveAccount(all[0]);
    }
    if (this.app.getActiveAccount()) await this.token();
  }

  session() {
    const raw = sessionStorage.getItem(KEY);
    return raw && this.app.getActiveAccount() ? JSON.parse(raw) : null;
  }

  async signIn() {
    await this.app.loginRedirect({ scopes: this.scopes });
    return null; // the page leaves for the login page
  }

  async token() {
    const account = this.app.getActiveAccount();
    if (!account) return "";
    try {
      const r = await this.app.acquireTokenSilent({ scopes: this.scopes, account });
      sessionStorage.setItem(KEY, JSON.stringify(sessionFromToken(r.accessToken)));
      return r.accessToken;
    } catch (e) {
      if (e instanceof InteractionRequiredAuthError) {
        await this.app.acquireTokenRedirect({ scopes: this.scopes, account });
      }
      throw e;
    }
  }

  signOut() {
    sessionStorage.removeItem(KEY);
    this.app.logoutRedirect();
  }
}

export function makeAuth(config) {
  return config.auth.mode === "msal" ? new MsalAuth(config.auth) : new DevAuth(config.apiBase || "");
}
