// 工单: one ticket's whole life on one page, for every role (what its role
// allows): what, where, who reported it (masked by the desk for the roles that
// do not call residents), the device and the reading that raised it with a
// chart of that point around the moment, the deadlines counting down, every
// lifecycle action the desk allows now with the fields it needs, the audit
// trail and the comments. #/tickets/123/print is its 维修单 / 派工单.
import uPlot from "uplot";
import { action, api, APIError, AuditEntry, Me, TicketDetail } from "../api";
import { clear, h, reading } from "../dom";
import { events } from "../events";
import { assigneeText, errorText, fromLocalInput, person, pointLabel, pointValue, staff, titleOf, descriptionOf, toLocalInput, when, yuan } from "../format";
import { duration, t } from "../i18n";
import { Page } from "../page";
import { printView } from "./print";
import { incidentPage, incidentPrint, ownerPanel, unsatisfiedNote } from "./owner";
import { areaNoteText, smsCard } from "./privacy";
import { complaintFields } from "./assistants";

const teams = ["engineering", "security", "customer_service", "management"];
// Causes for the monthly statistics: a complaint's from the manuals' list,
// a repair's from the engineers' usual ones.
const complaintCauses = ["house_quality", "amenities", "equipment", "service", "fees", "emergency", "neighbours", "other"];
const repairCauses = ["wear", "misuse", "quality", "installation", "external", "other"];

let unsubscribe: (() => void)[] = [];
// The reading's chart is kept across redraws of the page (a top-up
// reminder's page redraws with every note of its gateway): it is drawn once
// per ticket and reading.
let chartKept: { key: string; el: HTMLElement } | null = null;
let ticker: number | undefined;
let pending: number | undefined;
// The last answer to this console's own action (done, or why it was
// refused) outlives the live redraws that follow it: another console's
// change arriving a moment later must not wipe the sentence the user is
// reading.
let said: { id: number; text: string; error: boolean } | null = null;

// place is where the ticket is: site name, building, floor, unit.
export function place(tk: TicketDetail): string {
  return [tk.site_name || tk.site, tk.building && t("loc.building", { b: tk.building }),
    tk.floor && t("loc.floor", { f: tk.floor }), tk.unit && t("loc.unit", { u: tk.unit })].filter(Boolean).join(" ");
}

// countdown text of one pending deadline at now.
export function countdown(step: string, due: string, now: number): { text: string; overdue: boolean } {
  const left = Date.parse(due) - now;
  const label = t("step." + step);
  return left < 0
    ? { text: `${label} ${t("control.overdue", { d: duration(-left) })}`, overdue: true }
    : { text: `${label} ${t("ticket.left", { d: duration(left) })}`, overdue: false };
}

function deadlines(tk: TicketDetail): HTMLElement {
  const now = Date.now();
  const list = (tk.deadlines || []).filter((d) => d.state !== "withdrawn");
  if (list.length === 0) return h("p", { class: "muted" }, t("ticket.noDeadlines"));
  return h("ul", { class: "deadlines", id: "ticket-deadlines" }, ...list.map((d) => {
    if (d.state === "pending") {
      const c = countdown(d.step, d.due_at, now);
      return h("li", { class: "countdown" + (c.overdue ? " overdue" : ""), "data-due": d.due_at, "data-step": d.step },
        c.text, h("small", { class: "muted" }, " · " + t("ticket.dueAt", { at: when(d.due_at, tk.site_timezone) })));
    }
    if (d.state === "missed") return h("li", { class: "overdue" }, `${t("step." + d.step)} ${t("deadline.missed")}`, h("small", { class: "muted" }, " · " + when(d.due_at, tk.site_timezone)));
    return h("li", { class: "met" }, `${t("step." + d.step)} ✓`, d.met_at ? h("small", { class: "muted" }, " · " + when(d.met_at, tk.site_timezone)) : null);
  }));
}

function field(label: string, value: Node | string | undefined | null, id?: string): HTMLElement | null {
  if (value === undefined || value === null || value === "") return null;
  return h("div", { class: "field", id }, h("dt", {}, t(label)), h("dd", {}, value));
}

// label is a key's translation, or the raw value when there is none (a
// category a site added, a cause written in words).
function label(key: string, raw: string): string {
  const s = t(key);
  return s === key ? raw : s;
}

// editForm changes what the ticket is (PATCH /tickets/{id}): kind, the
// complaint's sub-kind, category and case, the cause, the appointment; the
// desk recomputes the deadlines. A manager moving an emergency's on-site
// deadline to the appointment gives a reason.
const editableKinds = ["emergency", "urgent_repair", "repair", "complaint", "request", "enquiry", "suggestion", "cleaning", "paid_service"];
function editForm(tk: TicketDetail, done: (msg: string, error?: boolean) => void): HTMLFormElement {
  const kind = h("select", { name: "kind" }, ...editableKinds.map((k) => h("option", { value: k }, t("kind." + k)))) as HTMLSelectElement;
  kind.value = tk.kind;
  const complaint = complaintFields(tk.site, true, tk);
  const parent = complaint.els[2]?.querySelector("input");
  if (parent && tk.parent_id) parent.value = String(tk.parent_id);
  kind.addEventListener("change", () => complaint.show(kind.value));
  complaint.show(kind.value);
  const cause = h("input", { name: "cause", maxlength: 64, value: tk.cause || "" }) as HTMLInputElement;
  const appointment = h("input", { name: "appointment_at", type: "datetime-local", value: tk.appointment_at ? toLocalInput(tk.appointment_at, tk.site_timezone) : "" }) as HTMLInputElement;
  const reason = h("input", { name: "reason", maxlength: 500, placeholder: t("ticket.reasonHint") }) as HTMLInputElement;
  const msg = h("p", { class: "msg", id: "edit-msg", role: "status" });
  const form = h("form", { class: "card action-form", id: "edit-form" },
    h("h4", {}, t("ticket.editTitle")),
    h("label", {}, t("form.kind"), kind), ...complaint.els,
    h("label", {}, t("form.cause"), cause),
    h("label", {}, t("form.appointment"), appointment),
    h("label", { class: "wide" }, t("ticket.reason"), reason),
    h("button", { type: "submit" }, t("ticket.save")), msg) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body: Record<string, string | number> = {};
    if (kind.value !== tk.kind) body.kind = kind.value;
    if (kind.value === "complaint") {
      const f = new FormData(form);
      const sub = String(f.get("sub_kind") || ""), cat = String(f.get("category") || "");
      if (sub && sub !== tk.sub_kind) body.sub_kind = sub;
      if (cat !== (tk.category || "")) body.category = cat;
      const p = Number(parent?.value || 0);
      if (p !== (tk.parent_id || 0)) body.parent_id = p;
    }
    if (cause.value.trim() !== (tk.cause || "")) body.cause = cause.value.trim();
    if (appointment.value) {
      const at = fromLocalInput(appointment.value, tk.site_timezone);
      if (!tk.appointment_at || Date.parse(at) !== Date.parse(tk.appointment_at)) body.appointment_at = at;
    }
    if (reason.value.trim()) body.reason = reason.value.trim();
    try {
      await api(`/tickets/${tk.id}`, { method: "PATCH", body: JSON.stringify(body) });
      done(t("ticket.updated"));
    } catch (e) {
      msg.textContent = errorText(e, tk.status);
      msg.classList.add("error");
    }
  });
  return form;
}

function facts(tk: TicketDetail, me: Me): HTMLElement {
  const z = tk.site_timezone;
  const canSeeDevices = ["admin", "manager", "engineer"].includes(me.role);
  const device = tk.device ? (canSeeDevices ? h("a", { href: `#/engineering?device=${encodeURIComponent(tk.device)}` }, tk.device) : tk.device) : "";
  const phone = tk.phone ? (tk.phone.includes("*") ? h("span", { class: "masked", title: t("ticket.masked") }, tk.phone) : h("a", { href: "tel:" + tk.phone }, tk.phone)) : "";
  return h("dl", { class: "facts", id: "ticket-facts" },
    field("ticket.subKind", tk.sub_kind ? t("subKind." + tk.sub_kind) : "", "ticket-sub-kind"),
    field("ticket.category", tk.category && tk.kind === "complaint" ? label("cause." + tk.category, tk.category) : "", "ticket-category"),
    field("ticket.case", tk.parent_id ? h("a", { href: `#/tickets/${tk.parent_id}`, id: "ticket-case" }, "#" + tk.parent_id) : ""),
    field("ticket.collective", tk.collective_at ? when(tk.collective_at, z) : "", "ticket-collective"),
    field("ticket.place", place(tk), "ticket-place"),
    field("ticket.reporter", tk.reporter ? h("span", {}, tk.reporter, " ", phone) : phone, "ticket-reporter"),
    field("ticket.source", t("source." + tk.source)),
    field("ticket.created", `${when(tk.created_at, z)} · ${person(tk.created_by)}`),
    field("ticket.device", device),
    // The point as people call it, its value in words or with its unit (剩余金额 9.99 元).
    field("ticket.reading", tk.reading ? (tk.reading_point
      ? `${pointLabel(tk.reading_point, tk.reading.point)} ${pointValue(tk.reading_point, tk.reading.value)} · ${when(tk.reading.at, z, true)}`
      : `${tk.reading.point} ${reading(tk.reading.value)} ${tk.reading.unit || ""} · ${when(tk.reading.at, z, true)}`) : "", "ticket-reading"),
    field("ticket.assignee", assigneeText(tk), "ticket-assignee"),
    field("ticket.appointment", when(tk.appointment_at, z)),
    field("ticket.onSite", when(tk.on_site_at, z)),
    field("ticket.resolution", tk.resolution, "ticket-resolution"),
    field("ticket.cause", tk.cause ? label("cause." + tk.cause, tk.cause) : "", "ticket-cause"),
    field("ticket.parts", tk.parts),
    field("ticket.charge", yuan(tk.charge_cents)),
    field("ticket.followUp", tk.satisfaction ? `${t("satisfaction." + tk.satisfaction)} · ${tk.follow_up_note || ""}` : "", "ticket-follow-up"),
    field("ticket.description", descriptionOf(tk), "ticket-description"),
  );
}

// readingChart draws the reading's point 30 minutes either side of the
// moment it was taken, with that moment marked.
async function readingChart(tk: TicketDetail, box: HTMLElement) {
  if (!tk.device || !tk.reading) return;
  const at = tk.reading.at;
  try {
    const series = await api<{ samples: { t: string; v: number }[] }>(
      `/devices/${encodeURIComponent(tk.device)}/history?point=${encodeURIComponent(tk.reading.point)}&at=${encodeURIComponent(at)}`);
    if (series.samples.length === 0) {
      clear(box, h("p", { class: "empty" }, t("eng.noData")));
      return;
    }
    const xs = series.samples.map((s) => Date.parse(s.t) / 1000);
    const ys = series.samples.map((s) => s.v);
    const mark = Date.parse(at) / 1000;
    clear(box);
    box.dataset.points = String(xs.length);
    const width = Math.max(260, Math.min(760, (box.clientWidth || 760) - 16));
    const zone = tk.site_timezone;
    const pm = tk.reading_point;
    new uPlot({
      width, height: 200,
      // The axis and legend in the site's zone and the UI's words, as on the
      // device page (not uPlot's "12/5/26 1:11am" in the browser's zone).
      tzDate: (ts: number) => (zone ? uPlot.tzDate(new Date(ts * 1e3), zone) : new Date(ts * 1e3)),
      series: [{ label: t("eng.time"), value: (_u: uPlot, ts: number | null) => (ts == null ? "—" : when(new Date(ts * 1e3).toISOString(), zone, true)) },
        { label: pm ? pointLabel(pm, tk.reading.point) : `${tk.reading.point}${tk.reading.unit ? " (" + tk.reading.unit + ")" : ""}`,
          stroke: "#1677ff", width: 1.5,
          value: (_u: uPlot, v: number | null) => (v == null ? "—" : pm ? pointValue(pm, v) : reading(v)) }],
      axes: [{ space: 64, values: (_u: uPlot, splits: number[]) => splits.map((ts) => when(new Date(ts * 1e3).toISOString(), zone, false).split(" ")[1] || "")
        .map((l, i, all) => (i > 0 && all[i - 1] === l ? "" : l)) }, { size: 50 }],
      hooks: {
        draw: [(u: uPlot) => {
          const x = u.valToPos(mark, "x", true);
          const ctx = u.ctx;
          ctx.save();
          ctx.strokeStyle = "#cf222e";
          ctx.setLineDash([4, 3]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.restore();
        }],
      },
    }, [xs, ys], box);
  } catch (e) {
    clear(box, h("p", { class: "empty" }, errorText(e)));
  }
}

// actionForm is the form of one lifecycle action with the fields it needs.
function actionForm(tk: TicketDetail, name: string, done: (msg: string, error?: boolean) => void): HTMLFormElement {
  const z = tk.site_timezone;
  const inputs: HTMLElement[] = [];
  const add = (label: string, el: HTMLElement, wide = false) => {
    inputs.push(h("label", { class: wide ? "wide" : "" }, t(label), el));
    return el;
  };
  const text = (name: string, required = false, rows = 2) =>
    h("textarea", { name, rows, required, maxlength: 2000 }) as HTMLTextAreaElement;
  const get: (() => Record<string, unknown>)[] = [];
  switch (name) {
    case "dispatch": {
      const team = add("control.team", h("select", { name: "team" }, h("option", { value: "" }, "—"),
        ...teams.map((x) => h("option", { value: x, selected: x === (tk.team || "engineering") }, t("team." + x))))) as HTMLSelectElement;
      const people = staff().filter((s) => s.role !== "gateway");
      const who = add("control.assignee", h("select", { name: "assignee" }, h("option", { value: "" }, "—"),
        ...people.map((s) => h("option", { value: s.name, selected: s.name === tk.assignee }, `${s.display_name || s.name}${s.team ? " · " + t("team." + s.team) : ""}`)))) as HTMLSelectElement;
      const appt = add("form.appointment", h("input", { name: "appointment_at", type: "datetime-local" })) as HTMLInputElement;
      get.push(() => {
        const b: Record<string, unknown> = {};
        if (team.value) b.team = team.value;
        if (who.value) b.assignee = who.value;
        if (appt.value) b.appointment_at = fromLocalInput(appt.value, z);
        return b;
      });
      break;
    }
    case "resolve": {
      const res = add("ticket.resolution", text("resolution", true, 3), true) as HTMLTextAreaElement;
      const cause = add("ticket.cause", h("select", { name: "cause" }, h("option", { value: "" }, "—"), ...(tk.kind === "complaint" ? complaintCauses : repairCauses).map((c) => h("option", { value: c }, t("cause." + c))))) as HTMLSelectElement;
      const parts = add("ticket.parts", h("input", { name: "parts", maxlength: 500, placeholder: t("ticket.partsHint") })) as HTMLInputElement;
      const charge = add("ticket.chargeYuan", h("input", { name: "charge", type: "number", min: 0, step: "0.01", inputmode: "decimal" })) as HTMLInputElement;
      get.push(() => {
        const b: Record<string, unknown> = { resolution: res.value.trim() };
        if (cause.value) b.cause = cause.value;
        if (parts.value.trim()) b.parts = parts.value.trim();
        if (charge.value) b.charge_cents = Math.round(Number(charge.value) * 100);
        return b;
      });
      break;
    }
    case "follow_up": {
      const score = add("col.satisfaction", h("select", { name: "satisfaction" }, ...[5, 4, 3, 2, 1].map((n) => h("option", { value: n }, t("satisfaction." + n))))) as HTMLSelectElement;
      const note = add("asst.followUpNote", text("follow_up_note", true), true) as HTMLTextAreaElement;
      get.push(() => ({ satisfaction: Number(score.value), follow_up_note: note.value.trim() }));
      break;
    }
    case "cancel":
    case "reopen": {
      const note = add(name === "cancel" ? "ticket.cancelReason" : "ticket.reopenReason", text("note", true), true) as HTMLTextAreaElement;
      get.push(() => ({ note: note.value.trim() }));
      break;
    }
    default: {
      // acknowledge, arrive, close: a remark for the trail, if any.
      const note = add("ticket.remark", h("input", { name: "note", maxlength: 2000 })) as HTMLInputElement;
      get.push(() => (note.value.trim() ? { note: note.value.trim() } : {}));
    }
  }
  const msg = h("p", { class: "msg error", role: "alert" });
  const form = h("form", { class: "card action-form", id: "form-" + name, "data-action": name },
    h("h3", {}, t("action." + name)), ...inputs,
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, t("ticket.confirm", { a: t("action." + name) })),
      h("button", { type: "button", class: "ghost", onclick: () => form.remove() }, t("ticket.back"))),
    msg) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body: Record<string, unknown> = { action: name };
    for (const g of get) Object.assign(body, g());
    const button = form.querySelector("button[type=submit]") as HTMLButtonElement;
    button.disabled = true;
    try {
      await action(tk.id, body);
      done(t("ticket.doneAction", { a: t("action." + name) }));
    } catch (e) {
      if (e instanceof APIError && e.status === 409) {
        // The ticket moved on: show it as it is now, and say why.
        done(errorText(e, tk.status), true);
        return;
      }
      msg.textContent = errorText(e, tk.status);
      button.disabled = false;
    }
  });
  return form;
}

const levelsKnown = ["assignee", "supervisor", "manager", "leadership"];

// noteText is an audit note in the UI's language where the desk wrote it
// itself (dispatched to, satisfaction, a missed deadline, a reminder).
export function noteText(a: AuditEntry, zone: string): string {
  const note = a.note || "";
  let m: RegExpExecArray | null;
  if (a.action === "dispatch" && (m = /^to (.+)$/.exec(note))) {
    return t("audit.to", { who: m[1].split(" ").map((w) => (teams.includes(w) ? t("team." + w) : person(w))).join(" · ") });
  }
  if (a.action === "follow_up" && (m = /^satisfaction (\d): ([\s\S]*)$/.exec(note))) {
    return `${t("satisfaction." + m[1])}${t("audit.colon")}${m[2]}`;
  }
  if (a.action === "deadline_missed" && (m = /^(\w+) was due (\S+); escalated to (.*)$/.exec(note))) {
    return t("audit.missed", { step: t("step." + m[1]), at: when(m[2], zone), to: m[3].split(", ").map((l) => (levelsKnown.includes(l) ? t("level." + l) : l)).join(t("list.sep")) });
  }
  if (a.action === "reopen" && unsatisfiedNote(note)) return unsatisfiedNote(note)!;
  const areaNote = areaNoteText(a.action, note); // areas and text messages (pages/privacy.ts)
  if (areaNote) return areaNote;
  if (a.action === "reminder" && (m = /^reminded by (\w+)([\s\S]*)$/.exec(note))) {
    return t("audit.reminded", { ch: t("contact." + m[1]) }) + m[2];
  }
  if (a.action === "update") return updateText(note, zone);
  return note;
}

// updateText reads the desk's note of a change of what a ticket is
// ("kind request → complaint; sub_kind — → general; reason: …") in the
// page's language.
const updateFields: Record<string, [string, (v: string, zone: string) => string]> = {
  kind: ["form.kind", (v) => t("kind." + v)],
  sub_kind: ["form.subKind", (v) => t("subKind." + v)],
  category: ["form.category", (v) => label("cause." + v, v)],
  cause: ["form.cause", (v) => label("cause." + v, v)],
  priority: ["col.priority", (v) => v],
  parent_id: ["ticket.case", (v) => v],
  appointment_at: ["form.appointment", (v, zone) => when(v, zone)],
};
function updateText(note: string, zone: string): string {
  const [changes, reason] = note.split(/; reason: /, 2);
  const parts = changes.split("; ").map((c) => {
    const m = /^(\w+) (.+) → (.+)$/.exec(c);
    const f = m && updateFields[m[1]];
    if (!m || !f) return c;
    const v = (x: string) => (x === "—" ? "—" : f[1](x, zone));
    return `${t(f[0])} ${v(m[2])} → ${v(m[3])}`;
  });
  if (reason !== undefined) parts.push(t("ticket.reason") + t("audit.colon") + reason);
  return parts.join(t("list.sep"));
}

function actionText(a: AuditEntry): string {
  switch (a.action) {
    case "created": return t("audit.created");
    case "comment": return t("audit.comment");
    case "gateway_note": return t("audit.gatewayNote");
    case "priority_raised": return t("audit.priorityRaised");
    default: return t("action." + a.action);
  }
}

// trailShown is how many of the newest entries a long trail shows at first
// (a top-up reminder collects a gateway note with every change of the balance).
const trailShown = 100;
let trailAll = false;

function trail(all: AuditEntry[], zone: string, redraw: () => void, tk?: { title: string; title_en?: string }): HTMLElement {
  const entries = trailAll || all.length <= trailShown ? all : [all[0], ...all.slice(-(trailShown - 1))];
  const more = entries.length < all.length
    ? h("button", { type: "button", class: "ghost", id: "audit-all", onclick: () => { trailAll = true; redraw(); } }, t("ticket.trailAll", { n: all.length }))
    : null;
  return h("div", {}, more, h("table", { class: "grid compact", id: "audit" },
    h("thead", {}, h("tr", {}, ...["audit.when", "audit.who", "audit.what", "audit.change", "audit.note"].map((k) => h("th", {}, t(k))))),
    h("tbody", {}, ...entries.map((a) => h("tr", { class: a.action === "comment" || a.action === "gateway_note" ? "comment" : "audit", "data-action": a.action },
      h("td", { class: "nowrap" }, when(a.at, zone, true)),
      h("td", { class: "nowrap" }, a.actor === "scheduler" ? t("audit.system") : person(a.actor)),
      h("td", { class: "nowrap" }, actionText(a)),
      h("td", { class: "nowrap" }, a.from && a.to && a.from !== a.to ? `${t("status." + a.from)} → ${t("status." + a.to)}` : ""),
      // The "created" entry's note is the title as the ticket was opened:
      // in the English console, its English title.
      h("td", {}, a.action === "created" && tk && a.note === tk.title ? titleOf(tk) : noteText(a, zone)))))));
}

async function render(root: HTMLElement, id: number, me: Me) {
  const [tk, { audit }] = await Promise.all([
    api<TicketDetail>(`/tickets/${id}`),
    api<{ audit: AuditEntry[] }>(`/tickets/${id}/audit`),
  ]);
  document.title = `#${tk.id} ${titleOf(tk)} · ${t("app.title")}`;
  const msg = h("p", { class: "msg", id: "ticket-msg", role: "status" });
  if (said?.id === id) {
    msg.textContent = said.text;
    msg.classList.toggle("error", said.error);
  }
  const formBox = h("div", { id: "action-box" });
  const rerender = (text: string, error = false) => {
    said = { id, text, error };
    void render(root, id, me);
  };
  const buttons = tk.allowed_actions.map((a) => h("button", {
    type: "button", class: "act" + (a === "cancel" ? " ghost danger" : ""), "data-action": a,
    onclick: () => {
      clear(formBox, actionForm(tk, a, rerender));
      (formBox.querySelector("textarea, input, select") as HTMLElement | null)?.focus();
    },
  }, t("action." + a)));
  if (["admin", "manager", "control_room", "assistant"].includes(me.role) && tk.kind !== "top_up" && !["closed", "cancelled"].includes(tk.status)) {
    buttons.push(h("button", {
      type: "button", class: "act ghost", id: "edit-kind", onclick: () => {
        clear(formBox, editForm(tk, rerender));
        (formBox.querySelector("select") as HTMLElement | null)?.focus();
      },
    }, t("ticket.edit")));
  }
  const linked = tk.kind === "complaint" && !tk.parent_id
    ? (await api<{ tickets: TicketDetail[] }>(`/tickets?parent=${tk.id}&limit=100`).catch(() => ({ tickets: [] as TicketDetail[] }))).tickets
    : [];
  const note = h("textarea", { name: "body", rows: 2, required: true, maxlength: 2000, "aria-label": t("control.note") }) as HTMLTextAreaElement;
  const noteForm = h("form", { id: "comment-form", class: "inline" }, h("label", { class: "wide" }, t("ticket.addComment"), note),
    h("button", { type: "submit" }, t("control.addNote")));
  noteForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api(`/tickets/${id}/comments`, { method: "POST", body: JSON.stringify({ body: note.value }) });
      rerender(t("control.done"));
    } catch (e) {
      msg.textContent = errorText(e, tk.status);
    }
  });
  const chartKey = tk.reading && tk.device ? `${tk.id}|${tk.device}|${tk.reading.point}|${tk.reading.at}` : "";
  const reuse = chartKept?.key === chartKey && chartKey !== "";
  const chart = reuse ? chartKept!.el : h("div", { class: "chart small", id: "reading-chart" });
  if (chartKey) chartKept = { key: chartKey, el: chart };
  clear(root,
    h("div", { class: "page-head ticket-head" },
      h("h2", {}, `#${tk.id} `, titleOf(tk)),
      h("div", { class: "head-links" },
        h("a", { href: `#/tickets/${tk.id}/print`, class: "button ghost", id: "print-link" }, t("ticket.print")),
        h("button", { type: "button", class: "ghost", onclick: () => (history.length > 1 ? history.back() : (window.location.hash = "#/")) }, t("ticket.back")))),
    h("div", { class: "badges", id: "ticket-badges" },
      h("span", { class: `badge ${tk.kind}` }, t("kind." + tk.kind)),
      tk.sub_kind && tk.sub_kind !== "general" ? h("span", { class: "badge sub-kind" }, t("subKind." + tk.sub_kind)) : null,
      tk.collective_at ? h("span", { class: "badge emergency", id: "badge-collective" }, t("action.collective")) : null,
      h("span", { class: "badge" }, tk.priority),
      h("span", { class: `badge status-${tk.status}`, id: "ticket-status" }, t("status." + tk.status)),
      tk.escalation_level > 0 ? h("span", { class: "badge escalated" }, t("control.escalated", { n: tk.escalation_level })) : null),
    h("div", { class: "ticket-grid" },
      h("section", {}, facts(tk, me), ownerPanel(tk, me, rerender),
        linked.length ? h("div", { id: "ticket-linked" }, h("h3", {}, t("ticket.linked"), ` (${linked.length})`),
          h("ul", {}, ...linked.map((c) => h("li", {}, h("a", { href: `#/tickets/${c.id}` }, `#${c.id}`), ` ${titleOf(c)} · ${place(c)}`)))) : null),
      h("section", {}, h("h3", {}, t("col.deadline")), deadlines(tk),
        tk.reading && tk.device ? h("h3", {}, t("ticket.readingChart")) : null, tk.reading && tk.device ? chart : null)),
    h("h3", {}, t("ticket.actions")),
    tk.allowed_actions.length ? h("div", { class: "actions-bar", id: "ticket-actions" }, ...buttons) : h("p", { class: "muted", id: "ticket-actions" }, t("ticket.noActions")),
    formBox, msg,
    tk.kind === "top_up" ? smsCard(tk, me) : null, // text-message reminders (pages/privacy.ts)
    h("h3", {}, t("ticket.trail")),
    trail(audit, tk.site_timezone, () => void render(root, id, me), tk),
    noteForm,
  );
  if (chartKey && !reuse) void readingChart(tk, chart);
}

function tick() {
  const now = Date.now();
  document.querySelectorAll<HTMLElement>("#ticket-deadlines .countdown").forEach((el) => {
    const c = countdown(el.dataset.step!, el.dataset.due!, now);
    el.classList.toggle("overdue", c.overdue);
    (el.firstChild as Text).textContent = c.text;
  });
}

export const ticketPage: Page = {
  route: "tickets",
  nav: "",
  hidden: true,
  roles: ["admin", "manager", "engineer", "control_room", "assistant"],
  async render(root, params) {
    ticketPage.leave!();
    const id = Number(params.get("id"));
    if (!Number.isInteger(id) || id < 1) {
      clear(root, h("p", { class: "msg error" }, t("err.notFound")));
      return;
    }
    const me = await api<Me>("/me");
    if (params.get("print")) {
      await printView(root, id);
      return;
    }
    if (params.get("incident")) {
      await (params.get("incident") === "print" ? incidentPrint(root, id) : incidentPage(root, id, me));
      return;
    }
    await render(root, id, me);
    ticker = window.setInterval(tick, 1000);
    // Another console's change redraws the page (an open form is kept).
    unsubscribe = [events.on((e) => {
      if (!e.type.startsWith("ticket.") || e.data?.id !== id) return;
      window.clearTimeout(pending);
      pending = window.setTimeout(() => {
        if (root.querySelector("#action-box form, #owner-box form")) return;
        void render(root, id, me).catch(() => { /* the next event retries */ });
      }, 300);
    })];
  },
  leave() {
    unsubscribe.forEach((u) => u());
    unsubscribe = [];
    window.clearInterval(ticker);
    window.clearTimeout(pending);
    chartKept = null;
    trailAll = false;
    said = null;
  },
};
