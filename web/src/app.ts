// The console's shell: sign-in, the pages a role may see, the language
// switch, and a connection indicator that turns red when the desk stops
// answering and green again by itself.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { api, APIError, Me, setToken, token } from "./api";
import { clear, h } from "./dom";
import { currentLang, setLang, t } from "./i18n";
import { Page } from "./page";
import { assistantsPage } from "./pages/assistants";
import { controlPage } from "./pages/control";
import { engineeringPage } from "./pages/engineering";

const pages: Page[] = [controlPage, engineeringPage, assistantsPage];
const app = document.getElementById("app")!;
let me: Me | null = null;
let timer: number | undefined;

function setConnection(ok: boolean) {
  const el = document.getElementById("conn");
  if (!el) return;
  el.className = ok ? "conn live" : "conn down";
  el.textContent = t(ok ? "conn.live" : "conn.down");
}

function loginView(error = "") {
  document.title = t("app.title");
  const input = h("input", { id: "token", type: "password", autocomplete: "current-password", placeholder: t("login.tokenHint") }) as HTMLInputElement;
  const form = h("form", { class: "card login", id: "login" },
    h("h1", {}, t("app.title")),
    h("label", {}, t("login.token"), input),
    h("button", { type: "submit" }, t("login.submit")),
    error ? h("p", { class: "msg error" }, error) : null,
    h("button", { type: "button", class: "ghost", onclick: () => { setLang(currentLang() === "en" ? "zh-CN" : "en"); loginView(); } }, t("lang.switch")),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    setToken(input.value.trim());
    start();
  });
  clear(app, form);
}

function pagesFor(role: string): Page[] {
  return pages.filter((p) => p.roles.includes(role));
}

async function route() {
  window.clearTimeout(timer);
  if (!me) return;
  const [path, query] = (window.location.hash.replace(/^#\/?/, "") || "").split("?");
  const allowed = pagesFor(me.role);
  const page = allowed.find((p) => p.route === path) || allowed[0];
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.getAttribute("data-route") === page?.route));
  const root = document.getElementById("page")!;
  if (!page) {
    clear(root, h("p", { class: "msg error" }, t("err.forbidden")));
    return;
  }
  const params = new URLSearchParams(query || "");
  const tick = async () => {
    try {
      await page.render(root, params);
      setConnection(true);
    } catch (e: any) {
      if (e instanceof APIError && e.status === 401) return signOut();
      if (e instanceof APIError) clear(root, h("p", { class: "msg error" }, t("err.load", { msg: e.message })));
      else setConnection(false);
    }
    if (page.refreshMs) timer = window.setTimeout(tick, page.refreshMs);
  };
  await tick();
}

function shell() {
  const nav = h("nav", {}, ...pagesFor(me!.role).map((p) => h("a", { href: "#/" + p.route, "data-route": p.route }, t(p.nav))));
  clear(app,
    h("header", {},
      h("strong", {}, t("app.title")),
      nav,
      h("span", { id: "conn", class: "conn live" }, t("conn.live")),
      h("span", { class: "who" }, `${me!.name} (${me!.role})`),
      h("button", { class: "ghost", id: "lang", onclick: () => { setLang(currentLang() === "en" ? "zh-CN" : "en"); shell(); route(); } }, t("lang.switch")),
      h("button", { class: "ghost", onclick: signOut }, t("logout")),
    ),
    h("main", { id: "page" }),
  );
  document.title = t("app.title");
}

function signOut() {
  window.clearTimeout(timer);
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
  shell();
  await route();
}

window.addEventListener("hashchange", route);
start();
