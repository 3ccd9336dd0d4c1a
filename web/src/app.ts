// The console's shell: sign-in (staff name and password, or an access token
// for gateways and operations), the pages a role may see, the language
// switch, and a connection indicator that follows the desk's event stream:
// red while it is down, green again when it has reconnected by itself.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { api, APIError, login, Me, setToken, token } from "./api";
import { busy, clear, h } from "./dom";
import { events } from "./events";
import { currentLang, setLang, t } from "./i18n";
import "./i18n_more";
import { installKeyboard } from "./a11y";
import { loadSites } from "./sites";
import { setStaff, StaffMember } from "./format";
import { Page } from "./page";
import { assistantsPage } from "./pages/assistants";
import { controlPage } from "./pages/control";
import { dutyPage, keysPage } from "./pages/duty";
import { engineeringPage } from "./pages/engineering";
import { equipmentPage } from "./pages/equipment";
import { householdsPage } from "./pages/households";
import { myCasesPage, myWorkPage } from "./pages/mywork";
import { reportsPage } from "./pages/reports";
import { roundsPage } from "./pages/rounds";
import { ticketPage } from "./pages/ticket";
import { outagesPage } from "./pages/outages";
import { commandsPage } from "./pages/commands";
import { accessPage, areasPage } from "./pages/privacy";

// In menu order; a role's first page is where it lands (an engineer on "my work").
const pages: Page[] = [myWorkPage, controlPage, dutyPage, keysPage, engineeringPage, roundsPage,
  assistantsPage, areasPage, householdsPage, equipmentPage, outagesPage, commandsPage, reportsPage, myCasesPage, accessPage, ticketPage];
// The pages a role opens now and then: in the menu's 更多 (shell).
const secondary: Page[] = [keysPage, areasPage, householdsPage, equipmentPage, outagesPage, commandsPage, accessPage];
const app = document.getElementById("app")!;
let me: Me | null = null;
let timer: number | undefined;
let current: Page | undefined;
let rendered = false;
let routeGen = 0;
let pollOK = true;

function setConnection(ok: boolean) {
  pollOK = ok;
  showConnection();
}

// showConnection is green when the page's last request answered and, for
// staff, the event stream is up.
function showConnection() {
  const el = document.getElementById("conn");
  if (!el) return;
  const ok = pollOK && (me?.role === "gateway" || events.live);
  el.className = ok ? "conn live" : "conn down";
  el.textContent = t(ok ? "conn.live" : "conn.down");
}
events.onStatus(showConnection);

function loginView(error = "", withToken = false) {
  document.title = t("app.title");
  const name = h("input", { id: "name", autocomplete: "username", required: true }) as HTMLInputElement;
  const password = h("input", { id: "password", type: "password", autocomplete: "current-password", required: true }) as HTMLInputElement;
  const tok = h("input", { id: "token", type: "password", autocomplete: "off", placeholder: t("login.tokenHint"), required: true }) as HTMLInputElement;
  const form = h("form", { class: "card login", id: "login" },
    h("h1", {}, t("app.title")),
    ...(withToken
      ? [h("label", {}, t("login.token"), tok)]
      : [h("label", {}, t("login.name"), name), h("label", {}, t("login.password"), password)]),
    h("button", { type: "submit" }, t("login.submit")),
    error ? h("p", { class: "msg error", id: "login-error" }, error) : null,
    h("div", { class: "login-links" },
      h("button", { type: "button", class: "ghost", id: "login-mode", onclick: () => loginView("", !withToken) }, t(withToken ? "login.usePassword" : "login.useToken")),
      h("button", { type: "button", class: "ghost", onclick: () => { setLang(currentLang() === "en" ? "zh-CN" : "en"); loginView("", withToken); } }, t("lang.switch"))),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (withToken) {
      setToken(tok.value.trim());
      return start();
    }
    try {
      setToken(await login(name.value.trim(), password.value));
    } catch (e: any) {
      return loginView(t(e instanceof APIError && e.status === 429 ? "login.tooMany" : "login.failed", { msg: e.message }));
    }
    await start();
  });
  clear(app, form);
  (withToken ? tok : name).focus();
}

function pagesFor(role: string): Page[] {
  return pages.filter((p) => p.roles.includes(role));
}

async function route() {
  window.clearTimeout(timer);
  current?.leave?.();
  current = undefined;
  if (!me) return;
  const [path, query] = (window.location.hash.replace(/^#\/?/, "") || "").split("?");
  // #/tickets/123 and #/tickets/123/print: the page, then its object.
  const [name, id, sub] = path.split("/");
  const allowed = pagesFor(me.role);
  const page = allowed.find((p) => p.route === name) || allowed.find((p) => !p.hidden);
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.getAttribute("data-route") === page?.route));
  // 更多 shows which of its pages is open.
  document.querySelector("nav .nav-more")?.classList.toggle("active", !!document.querySelector("nav .nav-more a.active"));
  // Each navigation draws into a fresh element: a page still fetching for
  // the previous address (the first page after sign-in, when a link is
  // followed at once) then draws into a detached one, not over this page.
  const gen = ++routeGen;
  const root = h("div", { class: "page-root" });
  clear(document.getElementById("page")!, root);
  if (!page) {
    clear(root, h("p", { class: "msg error" }, t("err.forbidden")));
    return;
  }
  const params = new URLSearchParams(query || "");
  if (id) params.set("id", id);
  if (sub === "print") params.set("print", "1");
  // #/tickets/123/incident and …/incident-print: its 突发事件处理表 (pages/owner.ts).
  if (sub === "incident" || sub === "incident-print") params.set("incident", sub === "incident" ? "1" : "print");
  document.body.classList.toggle("printing", sub === "print" || sub === "incident-print");
  current = page;
  const tick = async () => {
    try {
      // Busy while the page fetches and redraws (its periodic refreshes too).
      await busy(root, () => page.render(root, params));
      if (gen !== routeGen) {
        // Left while drawing: undo what it started (timers, subscriptions).
        if (current !== page) page.leave?.();
        return;
      }
      document.body.dataset.route = page.route; // which page is showing, once drawn
      setConnection(true);
      if (!rendered) {
        rendered = true;
        performance.mark("estate.first-render"); // read by the browser test
      }
    } catch (e: any) {
      if (e instanceof APIError && e.status === 401) return signOut();
      if (e instanceof APIError) clear(root, h("p", { class: "msg error" }, t("err.load", { msg: e.message })));
      else if (e instanceof TypeError && /fetch/i.test(e.message)) setConnection(false); // the network
      else {
        // A fault of the page itself: say so rather than show nothing.
        console.error(e);
        clear(root, h("p", { class: "msg error" }, t("err.load", { msg: String(e) })));
      }
    }
    if (page.refreshMs && current === page && gen === routeGen) timer = window.setTimeout(tick, page.refreshMs);
  };
  await tick();
}

function shell() {
  // A role's daily pages stay in sight; the occasional ones (registers,
  // imports, requests, the access log) fold into 更多, so that the header
  // keeps one line on a 1366 px screen and the control room its rows.
  const link = (p: Page) => h("a", { href: "#/" + p.route, "data-route": p.route }, t(p.nav));
  const shown = pagesFor(me!.role).filter((p) => !p.hidden);
  const main = shown.filter((p) => !secondary.includes(p));
  const rest = shown.filter((p) => secondary.includes(p));
  const more = rest.length === 0 ? null : h("details", { class: "nav-more" },
    h("summary", {}, t("nav.more")),
    h("div", { class: "nav-more-list", onclick: (ev: Event) => {
      if ((ev.target as HTMLElement).closest("a")) (ev.currentTarget as HTMLElement).parentElement!.removeAttribute("open");
    } }, ...rest.map(link)));
  const nav = h("nav", { "aria-label": t("a11y.nav") }, ...main.map(link), more);
  clear(app,
    h("header", {},
      h("strong", {}, t("app.title")),
      nav,
      h("span", { id: "conn", class: "conn live", role: "status" }, t("conn.live")),
      h("span", { class: "who" }, `${me!.display_name || me!.name} (${t("role." + me!.role)})`),
      h("button", { class: "ghost", id: "lang", onclick: () => { setLang(currentLang() === "en" ? "zh-CN" : "en"); shell(); route(); } }, t("lang.switch")),
      h("button", { class: "ghost", id: "logout", onclick: signOut }, t("logout")),
    ),
    h("main", { id: "page", tabindex: -1 }),
  );
  document.title = t("app.title");
}

async function signOut() {
  window.clearTimeout(timer);
  current?.leave?.();
  current = undefined;
  events.stop();
  if (token() && me && me.role !== "gateway") {
    await api("/logout", { method: "POST" }).catch(() => { /* an API token, or already expired */ });
  }
  setToken("");
  me = null;
  loginView();
}

async function start() {
  setLang(currentLang());
  if (!token()) return loginView();
  try {
    me = await api<Me>("/me");
  } catch (e: any) {
    setToken("");
    return loginView(t("login.failed", { msg: e.message }));
  }
  if (me.role !== "gateway") {
    // Display names of the audit trail and whom to dispatch to.
    setStaff(await api<{ staff: StaffMember[] }>("/staff").then((r) => r.staff).catch(() => []));
    await loadSites(); // site names (sites.ts)
  }
  shell();
  if (me.role !== "gateway") events.start();
  showConnection();
  await route();
}

window.addEventListener("hashchange", route);
installKeyboard();
start();
