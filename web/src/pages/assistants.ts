// 客服: today's red-meter households with one action to record a reminder
// (the list shrinks as households top up, followed over the event stream),
// the ticket board with filters, the work-order form for phone and walk-in
// requests, and the follow-up (回访) form with satisfaction.
import { action, api, Kinds, Me, Ticket, TopUp } from "../api";
import { busy, clear, h, location, reading } from "../dom";
import { events } from "../events";
import { errorText, fromLocalInput, person, titleOf } from "../format";
import { duration, t } from "../i18n";
import { ago } from "../i18n_more";
import { Page } from "../page";

const kinds = ["emergency", "urgent_repair", "repair", "top_up", "complaint", "request", "enquiry", "suggestion", "cleaning", "paid_service"];
// The kinds the front desk opens by hand (top-up reminders come from meters).
const formKinds = ["repair", "urgent_repair", "complaint", "request", "enquiry", "suggestion", "cleaning", "paid_service", "emergency"];
export const subKinds = ["general", "written", "important", "staff_attitude"];
export const defaultCategories = ["house_quality", "amenities", "equipment", "service", "fees", "emergency", "neighbours"];

// complaintFields are the complaint's own fields of a form (sub-kind,
// category, the case of the same matter), shown and sent only while the kind
// is a complaint; the categories are the site's (GET /kinds).
export function complaintFields(site: string, withParent: boolean, current?: Ticket): { els: HTMLElement[]; show: (kind: string) => void } {
  const category = h("select", { name: "category" }, h("option", { value: "" }, "—"),
    ...defaultCategories.map((c) => h("option", { value: c }, t("cause." + c)))) as HTMLSelectElement;
  void api<Kinds>(`/kinds?site=${encodeURIComponent(site)}`).then((k) => {
    const keep = category.value || current?.category || "";
    clear(category, h("option", { value: "" }, "—"), ...k.complaint_categories.map((c) => h("option", { value: c }, t("cause." + c) === "cause." + c ? c : t("cause." + c))));
    category.value = keep;
  }).catch(() => undefined);
  const sub = h("select", { name: "sub_kind" }, ...subKinds.map((s) => h("option", { value: s }, t("subKind." + s)))) as HTMLSelectElement;
  if (current?.sub_kind) sub.value = current.sub_kind;
  if (current?.category) category.value = current.category;
  const els: HTMLElement[] = [
    h("label", { class: "complaint-only" }, t("form.subKind"), sub),
    h("label", { class: "complaint-only" }, t("form.category"), category),
  ];
  if (withParent) els.push(h("label", { class: "complaint-only", title: t("form.parentHint") }, t("form.parent"),
    h("input", { name: "parent_id", type: "number", min: 1, step: 1, inputmode: "numeric", placeholder: t("form.parentHint") })));
  const show = (kind: string) => {
    for (const el of els) {
      el.hidden = kind !== "complaint";
      el.querySelectorAll<HTMLInputElement | HTMLSelectElement>("input, select").forEach((i) => (i.disabled = kind !== "complaint"));
    }
  };
  return { els, show };
}
const statuses = ["new", "dispatched", "on_site", "resolved", "followed_up", "closed", "cancelled"];
const channels = ["phone", "sms", "visit"];

let unsubscribe: (() => void)[] = [];
let pending: number | undefined;
let me: Me | null = null;

function newTicketForm(site: string, onDone: () => void): HTMLElement {
  const msg = h("p", { class: "msg", id: "form-msg" });
  const kindSel = h("select", { name: "kind" }, ...formKinds.map((k) => h("option", { value: k }, t("kind." + k)))) as HTMLSelectElement;
  const kindSelect = h("label", {}, t("form.kind"), kindSel);
  const complaint = complaintFields(site, true);
  kindSel.addEventListener("change", () => complaint.show(kindSel.value));
  complaint.show(kindSel.value);
  const form = h("form", { class: "card", id: "new-ticket" },
    h("h3", {}, t("form.title")),
    kindSelect,
    ...complaint.els,
    h("label", {}, t("form.subject"), h("input", { name: "title", required: true, maxlength: 200 })),
    h("label", {}, t("form.reporter"), h("input", { name: "reporter", maxlength: 100 })),
    h("label", {}, t("form.phone"), h("input", { name: "phone", type: "tel", maxlength: 40 })),
    h("label", {}, t("form.building"), h("input", { name: "building" })),
    h("label", {}, t("form.floor"), h("input", { name: "floor", maxlength: 16 })),
    h("label", {}, t("form.unit"), h("input", { name: "unit" })),
    h("label", {}, t("form.source"), h("select", { name: "source" }, ...["phone", "walk_in", "app"].map((s) => h("option", { value: s }, t("form.source." + s))))),
    h("label", {}, t("form.appointment"), h("input", { name: "appointment_at", type: "datetime-local" })),
    h("label", {}, t("form.cause"), h("input", { name: "cause", maxlength: 64 })),
    h("label", { class: "wide" }, t("form.description"), h("textarea", { name: "description", rows: 3 })),
    h("button", { type: "submit" }, t("form.submit")),
    msg,
  ) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data: Record<string, string> = {};
    for (const [k, v] of new FormData(form).entries()) if (String(v).trim()) data[k] = String(v).trim();
    // datetime-local has no zone: it is read as the site's wall time.
    if (data.appointment_at) data.appointment_at = fromLocalInput(data.appointment_at);
    const body: Record<string, string | number> = { ...data, site };
    if (data.parent_id) body.parent_id = Number(data.parent_id);
    try {
      const tk = await api<Ticket>("/tickets", { method: "POST", body: JSON.stringify(body) });
      clear(msg, t("form.created", { id: tk.id }), " ", h("a", { href: `#/tickets/${tk.id}`, id: "form-created-link" }, t("form.open")));
      form.reset();
      complaint.show(kindSel.value);
      onDone();
    } catch (e) {
      msg.textContent = errorText(e);
    }
  });
  return form;
}

function drawRedMeters(box: HTMLElement): Promise<void> {
  return busy(box, () => redMeters(box));
}

const outcomes = ["reached", "no_answer", "promised", "refused"];

// The balance now (the newest reading) or, without one, the ticket's own
// (marked as at creation); households without supply are marked 已断电 / 已停水.
function balanceCell(tp: TopUp): HTMLElement {
  if (tp.balance_now !== undefined && tp.balance_now !== null) {
    return h("td", { class: "num red balance", "data-now": "1" }, reading(tp.balance_now),
      tp.reading_at ? h("small", { class: "muted block" }, t("asst.readAt", { ago: ago(Date.now() - Date.parse(tp.reading_at)) })) : null);
  }
  if (tp.balance === undefined || tp.balance === null) return h("td", { class: "num balance" }, "—");
  return h("td", { class: "num red balance" }, reading(tp.balance), h("small", { class: "muted block" }, t("asst.atCreation")));
}

function lastReminderText(tp: TopUp): string {
  const last = tp.last_reminder;
  if (!last) return t("asst.notReminded");
  return [t("contact." + last.channel), person(last.by), ago(Date.now() - Date.parse(last.at)),
    last.outcome ? t("outcome." + last.outcome) : "", last.answer ? `“${last.answer}”` : "",
    t("asst.reminderCount", { n: tp.reminders })].filter(Boolean).join(" · ");
}

async function redMeters(box: HTMLElement) {
  // The desk puts the caller's area first; "my area only" keeps it alone (issue 15 part 4).
  const mineOnly = sessionStorage.getItem("estate.redMine") === "1";
  const { topups } = await api<{ topups: TopUp[] | null }>(mineOnly ? "/topups?area=mine" : "/topups");
  const list = topups || [];
  const remind = async (tp: TopUp, channel: string, outcome: string, answer: string, msg: HTMLElement) => {
    try {
      await api(`/tickets/${tp.ticket_id}/reminders`, { method: "POST", body: JSON.stringify({ channel, outcome, answer }) });
      await drawRedMeters(box);
    } catch (e) {
      msg.textContent = errorText(e);
    }
  };
  clear(box,
    h("h3", { id: "red-meters-title" }, t("asst.redCount", { n: list.length })),
    h("label", { class: "check" }, h("input", { type: "checkbox", id: "red-mine", checked: mineOnly, onchange: (ev: Event) => {
      sessionStorage.setItem("estate.redMine", (ev.target as HTMLInputElement).checked ? "1" : "");
      void drawRedMeters(box);
    } }), t("area.mineOnly")),
    list.length === 0 ? h("p", { class: "empty", id: "red-meters-empty" }, t("asst.empty")) :
      h("table", { class: "grid", id: "red-meters", "aria-labelledby": "red-meters-title" },
        h("thead", {}, h("tr", {}, ...["col.unit", "col.resident", "col.phone", "col.balance", "col.daysRed", "col.lastReminder", "col.remind"].map((k) => h("th", { scope: "col" }, t(k))))),
        h("tbody", {}, ...list.map((tp) => {
          const msg = h("span", { class: "msg error", role: "alert" });
          const where = location(tp) || "#" + tp.ticket_id;
          const outcome = h("select", { name: "outcome", "aria-label": t("asst.outcome") }, ...["", ...outcomes].map((o) => h("option", { value: o }, t("outcome." + o)))) as HTMLSelectElement;
          const note = h("input", { name: "answer", maxlength: 500, placeholder: t("asst.note"), "aria-label": t("asst.note") }) as HTMLInputElement;
          const off = tp.supply === "off";
          return h("tr", { "data-ticket": tp.ticket_id, "data-supply": tp.supply || "", class: off ? "supply-off" : "" },
            h("td", {}, h("a", { href: `#/tickets/${tp.ticket_id}` }, where),
              off ? h("span", { class: "badge off", "data-off": "1" }, " " + t(tp.category === "water" ? "asst.waterOff" : "asst.powerOff")) : null,
              tp.category ? h("span", { class: "meter-kind", "data-kind": tp.category }, " " + t("meterKind." + tp.category)) : null,
              tp.device ? h("small", { class: "muted" }, " " + tp.device) : null),
            h("td", {}, tp.resident || "—"),
            h("td", { class: "nowrap" }, tp.phone ? h("a", { href: "tel:" + tp.phone }, tp.phone) : "—"),
            balanceCell(tp),
            h("td", { class: "num nowrap" }, t("asst.daysRed", { n: tp.days_red })),
            h("td", { class: "last-reminder" }, lastReminderText(tp)),
            h("td", { class: "actions" }, h("div", { class: "remind-box", role: "group", "aria-label": t("a11y.reminderFor", { unit: where }) }, outcome, note, ...channels.map((c) =>
              h("button", { class: "ghost remind", type: "button", "data-channel": c, onclick: () => remind(tp, c, outcome.value, note.value.trim(), msg) }, t("contact." + c))), msg)));
        }))));
}

function drawFollowUps(box: HTMLElement, tickets: Ticket[], refresh: () => void) {
  const resolved = tickets.filter((tk) => tk.status === "resolved" && tk.kind !== "top_up");
  clear(box,
    h("h3", {}, t("asst.followUps")),
    resolved.length === 0 ? h("p", { class: "empty" }, t("asst.noFollowUps")) :
      h("table", { class: "grid compact", id: "follow-ups" },
        h("thead", {}, h("tr", {}, ...["col.id", "col.title", "col.resident", "col.resolution", "col.satisfaction"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, ...resolved.map((tk) => {
          const score = h("select", { name: "satisfaction" }, ...[5, 4, 3, 2, 1].map((n) => h("option", { value: n }, t("satisfaction." + n)))) as HTMLSelectElement;
          const note = h("input", { name: "follow_up_note", placeholder: t("asst.followUpNote"), required: true }) as HTMLInputElement;
          const msg = h("span", { class: "msg" });
          const form = h("form", { class: "inline follow-up", "data-ticket": tk.id }, score, note, h("button", { type: "submit" }, t("asst.followUp")), msg);
          form.addEventListener("submit", async (ev) => {
            ev.preventDefault();
            try {
              await action(tk.id, { action: "follow_up", satisfaction: Number(score.value), follow_up_note: note.value });
              refresh();
            } catch (e: any) {
              msg.textContent = t("form.failed", { msg: e.message });
            }
          });
          return h("tr", { "data-ticket": tk.id },
            h("td", { class: "nowrap" }, h("a", { href: `#/tickets/${tk.id}` }, "#" + tk.id)), h("td", {}, titleOf(tk)),
            h("td", {}, [tk.reporter, tk.phone].filter(Boolean).join(" ")),
            h("td", {}, tk.resolution || ""), h("td", {}, form));
        }))));
}

function drawBoard(box: HTMLElement, tickets: Ticket[], params: URLSearchParams) {
  const now = Date.now();
  const kind = params.get("kind") || "";
  const status = params.get("status") || "";
  const building = params.get("building") || "";
  const overdue = params.get("overdue") === "1";
  const board = tickets.filter((tk) => (!kind || tk.kind === kind) && (!status || tk.status === status) &&
    (!building || tk.building === building) && (!overdue || tk.escalation_level > 0));
  const go = (key: string, v: string) => {
    const p = new URLSearchParams(params);
    if (v) p.set(key, v); else p.delete(key);
    window.location.hash = "#/assistants?" + p.toString();
  };
  const filter = (name: string, values: string[], key: string, current: string) =>
    h("label", {}, t(name), h("select", { id: "filter-" + key, onchange: (ev: Event) => go(key, (ev.target as HTMLSelectElement).value) },
      h("option", { value: "" }, t("asst.all")), ...values.map((v) => h("option", { value: v, selected: v === current }, t(`${key}.${v}`)))));
  const buildings = [...new Set(tickets.map((tk) => tk.building).filter(Boolean) as string[])].sort();
  clear(box,
    h("h3", {}, t("asst.board")),
    h("div", { class: "filters" },
      filter("asst.filterKind", kinds, "kind", kind),
      filter("asst.filterStatus", statuses, "status", status),
      h("label", {}, t("form.building"), h("select", { id: "filter-building", onchange: (ev: Event) => go("building", (ev.target as HTMLSelectElement).value) },
        h("option", { value: "" }, t("asst.all")), ...buildings.map((b) => h("option", { value: b, selected: b === building }, b)))),
      h("label", { class: "check" }, h("input", { type: "checkbox", id: "filter-overdue", checked: overdue, onchange: (ev: Event) => go("overdue", (ev.target as HTMLInputElement).checked ? "1" : "") }), t("asst.overdue"))),
    h("table", { class: "grid compact", id: "board" },
      h("thead", {}, h("tr", {}, ...["col.id", "col.kind", "col.title", "col.location", "col.age", "col.status"].map((k) => h("th", {}, t(k))))),
      h("tbody", {}, ...board.map((tk) => h("tr", { "data-ticket": tk.id, class: tk.escalation_level > 0 ? "overdue-row" : "" },
        h("td", { class: "nowrap" }, h("a", { href: `#/tickets/${tk.id}` }, "#" + tk.id)), h("td", { class: "nowrap" }, t("kind." + tk.kind)),
        h("td", {}, h("a", { href: `#/tickets/${tk.id}` }, titleOf(tk))),
        h("td", { class: "nowrap" }, location(tk)), h("td", { class: "nowrap" }, duration(now - Date.parse(tk.created_at))), h("td", { class: "nowrap" }, t("status." + tk.status)))))));
}

export const assistantsPage: Page = {
  route: "assistants",
  nav: "nav.assistants",
  roles: ["admin", "manager", "assistant"],
  async render(root, params) {
    assistantsPage.leave!();
    me = await api<Me>("/me");
    const red = h("section", { id: "red-box" });
    const follow = h("section", { id: "follow-box" });
    const board = h("section", { id: "board-box" });
    const lists = () => busy(follow, () => busy(board, async () => {
      const { tickets } = await api<{ tickets: Ticket[] }>("/tickets?limit=500");
      drawFollowUps(follow, tickets, () => void lists());
      drawBoard(board, tickets, params);
      return tickets;
    }));
    const refreshAll = () => Promise.all([drawRedMeters(red), lists()]);
    const [, tickets] = await refreshAll();
    const site = me.site || tickets[0]?.site || "";
    clear(root, h("div", { class: "page-head" }, h("h2", {}, t("asst.title"))), red, follow, board,
      site ? newTicketForm(site, () => void lists()) : null);
    // Ticket changes re-read the lists: once per burst, one read at a time,
    // and at most every 2 s. A gateway's notes on a draining meter come every
    // few seconds, and a read of the red meters (latest readings, areas, the
    // access log) can take a second: unthrottled, the page was always busy.
    let running = false, again = false, last = 0;
    const refresh = async () => {
      if (running) { again = true; return; }
      running = true;
      last = Date.now();
      try { await refreshAll(); } catch { /* the next event retries */ } finally { running = false; }
      if (again) { again = false; schedule(); }
    };
    const schedule = () => {
      window.clearTimeout(pending);
      pending = window.setTimeout(() => void refresh(), Math.max(250, 2000 - (Date.now() - last)));
    };
    unsubscribe = [events.on((e) => {
      if (e.type.startsWith("ticket.")) schedule();
    })];
  },
  leave() {
    unsubscribe.forEach((u) => u());
    unsubscribe = [];
    window.clearTimeout(pending);
  },
};
