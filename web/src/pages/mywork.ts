// 我的工单: an engineer's work on a phone: the open tickets dispatched to them
// or to their team, nearest deadline first, each a card with what, where,
// the agreed time and its countdown, and the steps they take on their round:
// 接单 (take a team's ticket as mine), 到场, 完成 with what was done and the
// parts. Everything fits a 390 px screen; the ticket's page has the rest.
import { action, api, Me, Ticket, TicketDetail } from "../api";
import { busy, clear, h } from "../dom";
import { events } from "../events";
import { assigneeText, errorText, titleOf, when } from "../format";
import { t } from "../i18n";
import { Page } from "../page";
import { ownedCases } from "./owner";
import { countdown, place } from "./ticket";

let unsubscribe: (() => void)[] = [];
let ticker: number | undefined;
let pending: number | undefined;

function nextDue(tk: TicketDetail): number {
  const due = (tk.deadlines || []).filter((d) => d.state === "pending").map((d) => Date.parse(d.due_at));
  return due.length ? Math.min(...due) : Number.MAX_SAFE_INTEGER;
}

function resolveForm(tk: TicketDetail, done: () => void): HTMLFormElement {
  const res = h("textarea", { name: "resolution", rows: 3, required: true, maxlength: 2000 }) as HTMLTextAreaElement;
  const parts = h("input", { name: "parts", maxlength: 500, placeholder: t("ticket.partsHint") }) as HTMLInputElement;
  const charge = h("input", { name: "charge", type: "number", min: 0, step: "0.01", inputmode: "decimal" }) as HTMLInputElement;
  const msg = h("p", { class: "msg error", role: "alert" });
  const form = h("form", { class: "resolve-form", "data-ticket": tk.id },
    h("label", {}, t("ticket.resolution"), res),
    h("label", {}, t("ticket.parts"), parts),
    h("label", {}, t("ticket.chargeYuan"), charge),
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, t("ticket.confirm", { a: t("action.resolve") })),
      h("button", { type: "button", class: "ghost", onclick: () => form.remove() }, t("ticket.back"))),
    msg) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body: Record<string, unknown> = { action: "resolve", resolution: res.value.trim() };
    if (parts.value.trim()) body.parts = parts.value.trim();
    if (charge.value) body.charge_cents = Math.round(Number(charge.value) * 100);
    try {
      await action(tk.id, body);
      done();
    } catch (e) {
      msg.textContent = errorText(e, tk.status);
    }
  });
  return form;
}

function card(tk: TicketDetail, me: Me, refresh: () => void): HTMLElement {
  const now = Date.now();
  const msg = h("p", { class: "msg error", role: "alert" });
  const act = async (body: Record<string, unknown>) => {
    try {
      await action(tk.id, body);
      refresh();
    } catch (e) {
      msg.textContent = errorText(e, tk.status);
    }
  };
  const formBox = h("div", {});
  const allowed = new Set(tk.allowed_actions);
  const buttons: HTMLElement[] = [];
  if (allowed.has("dispatch") && tk.assignee !== me.name) {
    buttons.push(h("button", { type: "button", class: "accept", onclick: () => act({ action: "dispatch", assignee: me.name, team: tk.team || me.team || undefined }) }, t("work.accept")));
  }
  if (allowed.has("arrive")) buttons.push(h("button", { type: "button", class: "arrive", onclick: () => act({ action: "arrive" }) }, t("action.arrive")));
  if (allowed.has("resolve")) {
    buttons.push(h("button", { type: "button", class: "resolve", onclick: () => clear(formBox, resolveForm(tk, refresh)) }, t("action.resolve")));
  }
  const dues = (tk.deadlines || []).filter((d) => d.state === "pending").map((d) => {
    const c = countdown(d.step, d.due_at, now);
    return h("span", { class: "countdown" + (c.overdue ? " overdue" : ""), "data-due": d.due_at, "data-step": d.step }, c.text);
  });
  return h("article", { class: `work-card kind-${tk.kind}`, "data-ticket": tk.id, "data-status": tk.status, "data-mine": tk.assignee === me.name ? "1" : "0" },
    h("div", { class: "work-top" },
      h("a", { href: `#/tickets/${tk.id}`, class: "work-id" }, `#${tk.id}`),
      h("span", { class: `badge ${tk.kind}` }, t("kind." + tk.kind)),
      h("span", { class: "badge" }, tk.priority),
      h("span", { class: `badge status-${tk.status}` }, t("status." + tk.status))),
    h("a", { href: `#/tickets/${tk.id}`, class: "work-title" }, titleOf(tk)),
    h("div", { class: "work-place" }, place(tk)),
    tk.reporter || tk.phone ? h("div", {}, tk.reporter || "", " ", tk.phone && !tk.phone.includes("*") ? h("a", { href: "tel:" + tk.phone }, tk.phone) : tk.phone || "") : null,
    tk.appointment_at ? h("div", {}, `${t("form.appointment")}: ${when(tk.appointment_at, tk.site_timezone)}`) : null,
    h("div", { class: "muted" }, assigneeText(tk)),
    dues.length ? h("div", { class: "work-dues" }, ...dues) : null,
    buttons.length ? h("div", { class: "work-actions" }, ...buttons) : null,
    formBox, msg);
}

async function draw(box: HTMLElement, me: Me) {
  const { tickets } = await api<{ tickets: Ticket[] }>("/tickets?mine=true&open=true&limit=200");
  const active = tickets.filter((tk) => ["new", "dispatched", "on_site"].includes(tk.status));
  const details = await Promise.all(active.map((tk) => api<TicketDetail>(`/tickets/${tk.id}`)));
  details.sort((a, b) => nextDue(a) - nextDue(b) || a.id - b.id);
  const refresh = () => void busy(box, () => draw(box, me));
  clear(box,
    h("p", { class: "muted", id: "work-count" }, t("work.count", { n: details.length })),
    details.length === 0 ? h("p", { class: "empty" }, t("work.empty")) :
      h("div", { class: "work-list", id: "work-list" }, ...details.map((tk) => card(tk, me, refresh))));
}

function tick() {
  const now = Date.now();
  document.querySelectorAll<HTMLElement>("#work-list .countdown, #owned-list .countdown").forEach((el) => {
    const c = countdown(el.dataset.step!, el.dataset.due!, now);
    el.classList.toggle("overdue", c.overdue);
    el.textContent = c.text;
  });
}

// renderWork draws my work with its two tabs: the tickets dispatched to me
// (an engineer's round) and the cases I own (受理人: reply, weekly calls,
// follow-up), the latter first for the front desk.
async function renderWork(root: HTMLElement, params: URLSearchParams, route: string, defaultTab: "assigned" | "owned") {
  myWorkPage.leave!();
  const me = await api<Me>("/me");
  const tab = params.get("tab") === "owned" || params.get("tab") === "assigned" ? params.get("tab")! : defaultTab;
  const box = h("section", { id: "work-box" });
  const tabLink = (name: string, label: string) => h("a", { href: `#/${route}?tab=${name}`, id: "tab-" + name, role: "tab",
    class: "button" + (tab === name ? "" : " ghost"), "aria-selected": tab === name ? "true" : "false" }, t(label));
  clear(root, h("div", { class: "page-head" }, h("h2", {}, t(tab === "owned" ? "work.casesTitle" : "work.title", { who: me.display_name || me.name }))),
    h("div", { class: "tabs", role: "tablist" }, tabLink("assigned", "work.tabAssigned"), tabLink("owned", "work.tabOwned")), box);
  const drawTab = () => (tab === "owned" ? ownedCases(box, me, countdown) : draw(box, me));
  await busy(box, drawTab);
  ticker = window.setInterval(tick, 1000);
  unsubscribe = [events.on((e) => {
    if (!e.type.startsWith("ticket.")) return;
    window.clearTimeout(pending);
    pending = window.setTimeout(() => {
      if (box.querySelector("form")) return; // an engineer is typing
      void busy(box, drawTab).catch(() => { /* the next event retries */ });
    }, 300);
  })];
}

export const myWorkPage: Page = {
  route: "mywork",
  nav: "nav.mywork",
  roles: ["engineer"],
  render: (root, params) => renderWork(root, params, "mywork", "assigned"),
  leave() {
    unsubscribe.forEach((u) => u());
    unsubscribe = [];
    window.clearInterval(ticker);
    window.clearTimeout(pending);
  },
};

// myCasesPage is my work for the front desk, the control room and managers,
// who own cases more than they do the work: the same page, "my cases" first.
export const myCasesPage: Page = {
  route: "mycases",
  nav: "nav.mycases",
  roles: ["admin", "manager", "control_room", "assistant"],
  render: (root, params) => renderWork(root, params, "mycases", "owned"),
  leave: () => myWorkPage.leave!(),
};
