// The key console: signs a person in with e-mail and password and calls the public API.
//
// The access token lives in this module's memory only, never in a cookie or in browser
// storage: a reload signs out, and a request forged by another site carries no credential.
// The page is built with textContent and DOM nodes only, never from HTML strings, so text
// from the API (key names, audit details) cannot become markup.

const PAGE_SIZE = 20;
const OPERATOR_SCOPE = "tme_admin";

const state = {
  token: null,
  user: null,
  ticket: null,
  expiryTimer: 0,
  view: "signin",
  pages: { keys: 1, sessions: 1, accounts: 1, audit: 1 },
  accountsQuery: "",
  auditFilters: {},
};

const $ = (id) => document.getElementById(id);

// ---- talking to the API ---------------------------------------------------------------

class ApiError extends Error {
  constructor(message, { field = null, tag = null, ended = false } = {}) {
    super(message);
    this.field = field;
    this.tag = tag;
    this.ended = ended;
  }
}

const FIELD_NAMES = {
  name: "Name",
  scopes: "Scopes",
  expiresInDays: "Expires after",
  allowedCidrs: "Allowed networks",
  graceSeconds: "Grace period",
  currentPassword: "Current password",
  newPassword: "New password",
  query: "Username contains",
  username: "Username",
  event: "Event",
  keyId: "Key id",
  since: "From",
  until: "Until",
  disabled: "Disabled",
};

function describeError(error) {
  const data = error.data || {};
  if (error.message === "invalid credentials") return "Wrong e-mail or password.";
  if (error.message.startsWith("invalid field") && data.field) {
    return `${FIELD_NAMES[data.field] || data.field}: ${data.reason}.`;
  }
  if (error.message === "no such key") return "That key no longer exists.";
  if (error.message === "no such session") return "That session has already ended.";
  if (error.message === "no such account") return "No such account.";
  return `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`;
}

async function call(path, body = {}) {
  const headers = { "Content-Type": "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      redirect: "error",
    });
  } catch {
    throw new ApiError("The service does not answer. Try again in a moment.");
  }
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    envelope = null;
  }
  if (response.status === 401 && state.token) {
    endSession("Your session has ended. Sign in again.");
    throw new ApiError("Your session has ended.", { ended: true });
  }
  if (response.status === 429) {
    const wait = response.headers.get("Retry-After") || "a few";
    throw new ApiError(`Too many attempts. Try again in ${wait} seconds.`);
  }
  if (envelope && envelope.success) return envelope.success.data;
  if (envelope && envelope.error) {
    const field = envelope.error.data && envelope.error.data.field;
    throw new ApiError(describeError(envelope.error), { field, tag: envelope.error.tag });
  }
  throw new ApiError(`Unexpected answer from the service (HTTP ${response.status}).`);
}

// ---- announcing results ---------------------------------------------------------------

function announce(message) {
  $("alert").textContent = "";
  $("status").textContent = message;
}

function complain(error) {
  if (error instanceof ApiError && error.ended) return;
  const text = error instanceof ApiError ? error.message : "Something went wrong.";
  $("status").textContent = "";
  $("alert").textContent = error.tag ? `${text} Reference: ${error.tag}` : text;
}

function clearMessages() {
  $("status").textContent = "";
  $("alert").textContent = "";
}

// Runs a form's action with its submit button disabled, and reports a failure; a refused
// field is marked invalid and focused, so keyboard and screen-reader users land on it.
async function busy(form, action, fields = {}) {
  const button = form.querySelector("[type=submit]");
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  if (button) button.disabled = true;
  try {
    clearMessages();
    await action();
  } catch (error) {
    complain(error);
    const input = error.field && fields[error.field] && $(fields[error.field]);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
    }
  } finally {
    if (button) button.disabled = false;
  }
}

// ---- building the page ----------------------------------------------------------------

function el(tag, options = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(options)) {
    if (name === "text") node.textContent = value;
    else if (name === "className") node.className = value;
    else if (name === "onClick") node.addEventListener("click", value);
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function pad(number) {
  return String(number).padStart(2, "0");
}

function formatTime(ms, empty = "never") {
  if (ms === null || ms === undefined) return el("span", { className: "muted", text: empty });
  const at = new Date(ms);
  const text =
    `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ` +
    `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  return el("time", { datetime: at.toISOString(), text });
}

function badge(text, kind) {
  return el("span", { className: `badge ${kind}`, text });
}

function fillTable(name, rows) {
  $(`${name}-table`).tBodies[0].replaceChildren(...rows);
  $(`${name}-empty`).hidden = rows.length > 0;
}

function updatePager(name, answer) {
  const pager = document.querySelector(`[data-pager="${name}"]`);
  const pages = Math.max(1, Math.ceil(answer.total / answer.pageSize));
  pager.hidden = pages <= 1 && answer.page === 1;
  pager.querySelector("[data-page-label]").textContent = `Page ${answer.page} of ${pages}`;
  pager.querySelector('[data-step="-1"]').disabled = answer.page <= 1;
  pager.querySelector('[data-step="1"]').disabled = !answer.hasNext;
}

// ---- confirmation dialog --------------------------------------------------------------

function confirmAction({ title, text, confirm, grace = false }) {
  const dialog = $("confirm");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = confirm;
  $("confirm-grace").hidden = !grace;
  $("grace-seconds").value = "86400";
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "ok" ? { graceSeconds: Number($("grace-seconds").value) } : null),
      { once: true },
    );
    dialog.showModal();
    (grace ? $("grace-seconds") : $("confirm-cancel")).focus();
  });
}

// ---- signing in and out ---------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  const form = event.currentTarget;
  await busy(form, async () => {
    const data = await call("/client/authenticate", {
      username: $("signin-email").value.trim(),
      secretKey: $("signin-password").value,
      isAPI: false,
    });
    form.reset();
    state.token = data.access_token;
    state.user = data.user;
    state.ticket = data.ticket;
    // A token past its expiry is refused anyway; ending the session on time says so.
    const remaining = Math.max(0, data.expiresAt - Date.now());
    state.expiryTimer = setTimeout(() => endSession("Your session expired. Sign in again."), remaining);
    $("who-name").textContent = data.user.username;
    $("who").hidden = false;
    $("nav").hidden = false;
    const operator = data.user.scopes.includes(OPERATOR_SCOPE);
    for (const item of document.querySelectorAll("[data-operator]")) item.hidden = !operator;
    renderScopeChoices();
    await showView("keys");
    announce(`Signed in as ${data.user.username}.`);
  });
}

async function signOut() {
  try {
    await call("/client/logout");
  } catch {
    // The token is dropped either way; a failed logout only leaves it to expire.
  }
  endSession("Signed out.");
}

function endSession(message) {
  clearTimeout(state.expiryTimer);
  state.token = null;
  state.user = null;
  state.ticket = null;
  state.pages = { keys: 1, sessions: 1, accounts: 1, audit: 1 };
  hideSecret();
  for (const name of ["keys", "sessions", "accounts", "audit"]) fillTable(name, []);
  for (const form of document.querySelectorAll("form")) form.reset();
  $("key-scopes").replaceChildren();
  $("who").hidden = true;
  $("nav").hidden = true;
  if ($("confirm").open) $("confirm").close();
  showView("signin");
  announce(message);
}

// ---- views ----------------------------------------------------------------------------

const LOADERS = {
  keys: loadKeys,
  sessions: loadSessions,
  accounts: loadAccounts,
  audit: loadAudit,
};

async function showView(name) {
  state.view = name;
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  for (const button of document.querySelectorAll("#nav [data-view]")) {
    if (button.dataset.view === name) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  $(`view-${name}`).querySelector("h1").focus();
  if (LOADERS[name]) await LOADERS[name]();
}

async function navigate(event) {
  const button = event.target.closest("[data-view]");
  if (!button) return;
  clearMessages();
  try {
    await showView(button.dataset.view);
  } catch (error) {
    complain(error);
  }
}

async function turnPage(event) {
  const button = event.target.closest("[data-step]");
  if (!button) return;
  const name = button.closest("[data-pager]").dataset.pager;
  state.pages[name] = Math.max(1, state.pages[name] + Number(button.dataset.step));
  try {
    await LOADERS[name]();
  } catch (error) {
    complain(error);
  }
}

// ---- API keys -------------------------------------------------------------------------

function renderScopeChoices() {
  const choices = state.user.scopes.map((scope) => {
    const id = `key-scope-${scope}`;
    return el(
      "div",
      { className: "choice" },
      el("input", { type: "checkbox", id, value: scope, checked: "" }),
      el("label", { for: id, text: scope }),
    );
  });
  $("key-scopes").replaceChildren(...choices);
}

function showSecret(key, secret, graceNote) {
  $("secret-key-name").textContent = key.name;
  $("secret-value").value = secret;
  $("secret-grace").hidden = !graceNote;
  $("secret-grace").textContent = graceNote || "";
  $("secret-panel").hidden = false;
  $("secret-title").focus();
}

function hideSecret() {
  $("secret-value").value = "";
  $("secret-panel").hidden = true;
}

async function copySecret() {
  const secret = $("secret-value").value;
  try {
    await navigator.clipboard.writeText(secret);
    announce("Secret copied to the clipboard.");
  } catch {
    $("secret-value").select();
    complain(new ApiError("The browser refused to copy: the secret is selected, copy it with Ctrl+C."));
  }
}

async function createKey(event) {
  event.preventDefault();
  const form = event.currentTarget;
  await busy(
    form,
    async () => {
      const scopes = [...$("key-scopes").querySelectorAll("input:checked")].map((box) => box.value);
      if (scopes.length === 0) throw new ApiError("Scopes: choose at least one.", { field: "scopes" });
      const body = { name: $("key-name").value.trim(), scopes };
      const days = $("key-expiry").value.trim();
      if (days) body.expiresInDays = Number(days);
      const cidrs = $("key-cidrs").value.split(/[\s,]+/).filter(Boolean);
      if (cidrs.length) body.allowedCidrs = cidrs;
      const key = await call("/client/keys/create", body);
      form.reset();
      renderScopeChoices();
      state.pages.keys = 1;
      await loadKeys();
      showSecret(key, key.secretKey, "");
      announce(`Key ${key.name} created. Copy its secret now.`);
    },
    { name: "key-name", scopes: "key-scope-tme_user", expiresInDays: "key-expiry", allowedCidrs: "key-cidrs" },
  );
}

async function rotateKey(key) {
  const choice = await confirmAction({
    title: `Rotate key ${key.name}?`,
    text: "The key gets a new secret under the same id. Clients move to it while the current secret still works.",
    confirm: "Rotate key",
    grace: true,
  });
  if (!choice) return;
  try {
    clearMessages();
    const rotated = await call("/client/keys/rotate", { id: key.id, graceSeconds: choice.graceSeconds });
    await loadKeys();
    const until = rotated.previousSecretExpiresAt;
    const note = until
      ? `The previous secret works until ${formatTime(until).textContent}.`
      : "The previous secret no longer works.";
    showSecret(rotated, rotated.secretKey, note);
    announce(`Key ${key.name} rotated. Copy its new secret now.`);
  } catch (error) {
    complain(error);
  }
}

async function revokeKey(key) {
  const choice = await confirmAction({
    title: `Revoke key ${key.name}?`,
    text: "Logins with it are refused and its sessions end at once. This cannot be undone.",
    confirm: "Revoke key",
  });
  if (!choice) return;
  try {
    clearMessages();
    await call("/client/keys/revoke", { id: key.id });
    await loadKeys();
    announce(`Key ${key.name} revoked.`);
  } catch (error) {
    complain(error);
  }
}

const STATUS_KINDS = { active: "ok", expired: "warn", revoked: "off" };

function keyRow(key) {
  const name = el("td", {}, el("span", { className: "strong", text: key.name }));
  if (key.allowedCidrs.length) {
    name.append(el("span", { className: "sub", text: `from ${key.allowedCidrs.join(", ")}` }));
  }
  const status = el("td", {}, badge(key.status, STATUS_KINDS[key.status] || "off"));
  if (key.previousSecretExpiresAt) {
    const until = formatTime(key.previousSecretExpiresAt).textContent;
    status.append(el("span", { className: "sub", text: `old secret until ${until}` }));
  }
  const actions = el("td", { className: "actions" });
  if (key.status === "active") {
    actions.append(
      el("button", { type: "button", "aria-label": `Rotate key ${key.name}`, text: "Rotate", onClick: () => rotateKey(key) }),
      el("button", {
        type: "button",
        className: "danger",
        "aria-label": `Revoke key ${key.name}`,
        text: "Revoke",
        onClick: () => revokeKey(key),
      }),
    );
  }
  return el(
    "tr",
    { "data-key-id": key.id },
    name,
    el("td", {}, el("code", { text: key.prefix })),
    el("td", { text: key.scopes.join(" ") }),
    el("td", {}, formatTime(key.createdAt)),
    el("td", {}, formatTime(key.lastUsedAt)),
    el("td", {}, formatTime(key.expiresAt)),
    status,
    actions,
  );
}

async function loadKeys() {
  const page = await call("/client/keys/search", { page: state.pages.keys, pageSize: PAGE_SIZE });
  fillTable("keys", page.items.map(keyRow));
  updatePager("keys", page);
}

// ---- sessions -------------------------------------------------------------------------

async function endOwnSession(session) {
  try {
    clearMessages();
    const answer = await call("/client/sessions/revoke", { ticket: session.ticket });
    if (answer.current) {
      endSession("You ended this session and are signed out.");
      return;
    }
    await loadSessions();
    announce("Session ended.");
  } catch (error) {
    complain(error);
  }
}

function sessionRow(session) {
  const kind = el("td", {}, el("span", { text: session.isAPI ? `API key ${session.keyId}` : "Password sign-in" }));
  if (session.current) kind.append(" ", badge("this session", "ok"));
  const started = formatTime(session.createdAt).textContent;
  const label = session.current
    ? "End this session and sign out"
    : `End ${session.isAPI ? "API-key" : "password"} session started ${started} from ${session.clientIp}`;
  return el(
    "tr",
    { "data-ticket": session.ticket },
    kind,
    el("td", {}, formatTime(session.createdAt)),
    el("td", {}, formatTime(session.expiresAt)),
    el("td", {}, el("code", { text: session.clientIp || "" })),
    el("td", { text: session.scopes.join(" ") }),
    el(
      "td",
      { className: "actions" },
      el("button", { type: "button", className: "danger", "aria-label": label, text: "End", onClick: () => endOwnSession(session) }),
    ),
  );
}

async function loadSessions() {
  const page = await call("/client/sessions/search", { page: state.pages.sessions, pageSize: PAGE_SIZE });
  fillTable("sessions", page.items.map(sessionRow));
  updatePager("sessions", page);
}

// ---- password -------------------------------------------------------------------------

async function changePassword(event) {
  event.preventDefault();
  const form = event.currentTarget;
  await busy(
    form,
    async () => {
      if ($("password-new").value !== $("password-repeat").value) {
        throw new ApiError("New password again: does not match the new password.", { field: "repeat" });
      }
      await call("/client/password/change", {
        currentPassword: $("password-current").value,
        newPassword: $("password-new").value,
      });
      form.reset();
      announce("Password changed. Your other sessions have ended.");
    },
    { currentPassword: "password-current", newPassword: "password-new", repeat: "password-repeat" },
  );
}

// ---- operator: accounts ---------------------------------------------------------------

async function setDisabled(account, disabled) {
  if (disabled) {
    const choice = await confirmAction({
      title: `Disable ${account.username}?`,
      text: "Its sessions end and every one of its API keys is revoked at once. Enabling it again restores password sign-in only.",
      confirm: "Disable account",
    });
    if (!choice) return;
  }
  try {
    clearMessages();
    await call("/admin/users/update", { username: account.username, disabled });
    await loadAccounts();
    announce(`Account ${account.username} ${disabled ? "disabled" : "enabled"}.`);
  } catch (error) {
    complain(error);
  }
}

function accountRow(account) {
  const actions = el("td", { className: "actions" });
  if (account.username === state.user.username) {
    actions.append(el("span", { className: "muted", text: "you" }));
  } else if (account.disabled) {
    actions.append(
      el("button", {
        type: "button",
        "aria-label": `Enable ${account.username}`,
        text: "Enable",
        onClick: () => setDisabled(account, false),
      }),
    );
  } else {
    actions.append(
      el("button", {
        type: "button",
        className: "danger",
        "aria-label": `Disable ${account.username}`,
        text: "Disable",
        onClick: () => setDisabled(account, true),
      }),
    );
  }
  return el(
    "tr",
    { "data-username": account.username },
    el("td", { className: "strong", text: account.username }),
    el("td", { text: account.scopes.join(" ") }),
    el("td", {}, account.disabled ? badge("disabled", "off") : badge("active", "ok")),
    el("td", { className: "num", text: String(account.failedPasswordAttempts) }),
    el("td", {}, formatTime(account.createdAt)),
    actions,
  );
}

async function loadAccounts() {
  const body = { page: state.pages.accounts, pageSize: PAGE_SIZE };
  if (state.accountsQuery) body.query = state.accountsQuery;
  const page = await call("/admin/users/search", body);
  fillTable("accounts", page.items.map(accountRow));
  updatePager("accounts", page);
  return page;
}

async function searchAccounts(event) {
  event.preventDefault();
  state.accountsQuery = $("accounts-query").value.trim();
  state.pages.accounts = 1;
  await busy(
    event.currentTarget,
    async () => announce(matches(await loadAccounts(), "account", "accounts")),
    { query: "accounts-query" },
  );
}

// ---- operator: audit trail ------------------------------------------------------------

function auditRow(entry) {
  const detail = Object.entries(entry.detail || {}).map(([name, value]) =>
    el("span", { text: `${name}: ${typeof value === "string" ? value : JSON.stringify(value)}` }),
  );
  const outcome = entry.outcome === "ok" ? "ok" : "warn";
  return el(
    "tr",
    {},
    el("td", {}, formatTime(entry.at)),
    el("td", {}, el("code", { text: entry.event })),
    el("td", {}, badge(entry.outcome, outcome)),
    el("td", { text: entry.username || "" }),
    el("td", {}, el("code", { text: entry.keyId || "" })),
    el("td", {}, el("code", { text: entry.clientIp || "" })),
    el("td", { text: entry.actor || "" }),
    el("td", {}, el("code", { className: "detail" }, ...detail)),
  );
}

async function loadAudit() {
  const body = { page: state.pages.audit, pageSize: PAGE_SIZE, ...state.auditFilters };
  const page = await call("/admin/audit/search", body);
  fillTable("audit", page.items.map(auditRow));
  updatePager("audit", page);
  return page;
}

function matches(page, one, many) {
  if (page.total === 0) return `No ${one} matches.`;
  return `${page.total} ${page.total === 1 ? one : many} ${page.total === 1 ? "matches" : "match"}.`;
}

async function searchAudit(event) {
  event.preventDefault();
  const filters = {};
  const text = { event: "audit-event", outcome: "audit-outcome", username: "audit-username", keyId: "audit-key" };
  for (const [field, id] of Object.entries(text)) {
    const value = $(id).value.trim();
    if (value) filters[field] = value;
  }
  for (const [field, id] of Object.entries({ since: "audit-since", until: "audit-until" })) {
    const value = $(id).value;
    if (value) filters[field] = new Date(value).getTime();
  }
  state.auditFilters = filters;
  state.pages.audit = 1;
  await busy(event.currentTarget, async () => announce(matches(await loadAudit(), "event", "events")), {
    event: "audit-event",
    outcome: "audit-outcome",
    username: "audit-username",
    keyId: "audit-key",
    since: "audit-since",
    until: "audit-until",
  });
}

// ---- wiring ---------------------------------------------------------------------------

function start() {
  $("signin-form").addEventListener("submit", signIn);
  $("create-form").addEventListener("submit", createKey);
  $("password-form").addEventListener("submit", changePassword);
  $("accounts-form").addEventListener("submit", searchAccounts);
  $("audit-form").addEventListener("submit", searchAudit);
  $("nav").addEventListener("click", navigate);
  $("sign-out").addEventListener("click", signOut);
  $("copy-secret").addEventListener("click", copySecret);
  $("secret-done").addEventListener("click", () => {
    hideSecret();
    announce("The secret is no longer shown.");
    $("keys-title").focus();
  });
  $("confirm-ok").addEventListener("click", () => $("confirm").close("ok"));
  $("confirm-cancel").addEventListener("click", () => $("confirm").close("cancel"));
  for (const pager of document.querySelectorAll("[data-pager]")) {
    pager.addEventListener("click", turnPage);
    pager.hidden = true;
  }
  $("signin-email").focus();
}

start();
