// The owner's side of a case (issue 14 parts 3–5): on the ticket's page, who
// owns it (受理人) and the owner's tasks — the reply to the resident (or a
// promised reply time), the weekly call, handing the owner or the assignee
// over — and, for an emergency, its 突发事件处理表: the owner writes and
// submits it, a manager approves or returns it, and #/tickets/5/incident-print
// prints it. "My cases" (the cases a person owns) is a tab of my work.
import { api, AuditEntry, Me, Ticket, TicketDetail } from "../api";
import { clear, h } from "../dom";
import { errorText, fromLocalInput, person, staff, when } from "../format";
import { t } from "../i18n";
import { noteText } from "./ticket";

export interface Incident {
  ticket_id: number;
  state: "draft" | "submitted" | "approved" | "returned";
  what_happened: string;
  cause: string;
  measures: string;
  result: string;
  people: string;
  updated_by: string;
  updated_at: string;
  submitted_by?: string;
  submitted_at?: string;
  decided_by?: string;
  decided_at?: string;
  decision_note?: string;
}

interface IncidentView {
  ticket: TicketDetail;
  report: Incident | null;
  timeline: { at: string; actor: string; action: string; from?: string; to?: string; note?: string }[];
  may: { write: boolean; decide: boolean };
  sections: string[];
  calls: { at: string; by: string; note: string }[];
  site_name: string;
}

const post = (path: string, body: unknown, method = "POST") => api(path, { method, body: JSON.stringify(body) });

function ownerForm(tk: TicketDetail, kind: "reply" | "call" | "handover", done: (msg: string, error?: boolean) => void): HTMLFormElement {
  const z = tk.site_timezone;
  const msg = h("p", { class: "msg error", role: "alert" });
  const fields: HTMLElement[] = [];
  let body: () => [string, unknown];
  if (kind === "reply") {
    const note = h("textarea", { name: "note", rows: 2, required: true, maxlength: 2000 }) as HTMLTextAreaElement;
    const commit = h("input", { name: "committed_at", type: "datetime-local" }) as HTMLInputElement;
    fields.push(h("label", { class: "wide" }, t("owner.replyNote"), note), h("label", {}, t("owner.commit"), commit));
    body = () => [`/tickets/${tk.id}/reply`, { note: note.value.trim(), ...(commit.value ? { committed_at: fromLocalInput(commit.value, z) } : {}) }];
  } else if (kind === "call") {
    const note = h("textarea", { name: "note", rows: 2, required: true, maxlength: 2000 }) as HTMLTextAreaElement;
    fields.push(h("label", { class: "wide" }, t("owner.callNote"), note));
    body = () => [`/tickets/${tk.id}/calls`, { note: note.value.trim() }];
  } else {
    const role = h("select", { name: "role" }, h("option", { value: "owner" }, t("owner.handOwner")),
      ["dispatched", "on_site"].includes(tk.status) ? h("option", { value: "assignee" }, t("owner.handAssignee")) : null) as HTMLSelectElement;
    const to = h("select", { name: "to", required: true }, h("option", { value: "" }, "—"),
      ...staff().filter((s) => s.role !== "gateway").map((s) => h("option", { value: s.name }, s.display_name || s.name))) as HTMLSelectElement;
    const note = h("textarea", { name: "note", rows: 2, required: true, maxlength: 2000 }) as HTMLTextAreaElement;
    fields.push(h("label", {}, t("owner.handRole"), role), h("label", {}, t("owner.handTo"), to), h("label", { class: "wide" }, t("owner.handNote"), note));
    body = () => [`/tickets/${tk.id}/handover`, { role: role.value, to: to.value, note: note.value.trim() }];
  }
  const title = { reply: "owner.reply", call: "owner.call", handover: "owner.handover" }[kind];
  const form = h("form", { class: "card action-form", id: "owner-form-" + kind },
    h("h3", {}, t(title)), ...fields,
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, t("owner.save")),
      h("button", { type: "button", class: "ghost", onclick: () => form.remove() }, t("ticket.back"))),
    msg) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const [path, b] = body();
    try {
      await post(path, b);
      done(t("owner.done"));
    } catch (e) {
      msg.textContent = errorText(e, tk.status);
    }
  });
  return form;
}

// ownerPanel is the owner's block of the ticket page.
export function ownerPanel(tk: TicketDetail, me: Me, done: (msg: string, error?: boolean) => void): HTMLElement {
  const z = tk.site_timezone;
  const box = h("div", { id: "owner-box" });
  const open = !["closed", "cancelled"].includes(tk.status);
  const manages = me.role === "admin" || me.role === "manager";
  const mine = manages || me.name === tk.owner;
  const frontDesk = me.role !== "engineer";
  const button = (id: string, label: string, kind: "reply" | "call" | "handover") =>
    h("button", { type: "button", class: "ghost", id, onclick: () => clear(box, ownerForm(tk, kind, done)) }, t(label));
  const buttons = [
    open && mine && frontDesk ? button("owner-reply", "owner.reply", "reply") : null,
    open && mine && frontDesk ? button("owner-call", "owner.call", "call") : null,
    open && (mine || me.name === tk.assignee) ? button("owner-handover", "owner.handover", "handover") : null,
  ].filter(Boolean) as HTMLElement[];
  const incident = tk.needs_incident
    ? h("p", { id: "incident-line" },
      h("a", { href: `#/tickets/${tk.id}/incident`, class: "button", id: "incident-link" }, t("inc.link")), " ",
      h("span", { class: "badge", id: "incident-state" }, "…"), " ", h("small", { class: "muted" }, t("inc.needed")))
    : null;
  if (incident) {
    void api<IncidentView>(`/tickets/${tk.id}/incident`).then((v) => {
      const el = incident.querySelector("#incident-state");
      if (el) el.textContent = t("inc.state." + (v.report?.state || "none"));
    }).catch(() => { /* shown as … */ });
  }
  return h("section", { class: "owner-panel", id: "owner-panel" },
    h("h3", {}, t("owner.tasks")),
    h("dl", { class: "facts" },
      h("div", { class: "field", id: "ticket-owner" }, h("dt", {}, t("owner.owner")), h("dd", {}, tk.owner ? person(tk.owner) : t("owner.none"))),
      tk.replied_at ? h("div", { class: "field", id: "ticket-reply" }, h("dt", {}, t("owner.replied")),
        h("dd", {}, `${when(tk.replied_at, z)} · ${tk.reply_note || ""}`,
          tk.reply_committed_at ? h("small", { class: "muted" }, " · " + t("owner.committed", { at: when(tk.reply_committed_at, z) })) : null)) : null),
    buttons.length ? h("div", { class: "actions-bar" }, ...buttons) : null,
    box, incident);
}

// unsatisfiedNote reads the desk's note of a follow-up that reopened a ticket.
export function unsatisfiedNote(note: string): string | null {
  const m = /^unsatisfied \(satisfaction (\d), below (\d)\): ([\s\S]*)$/.exec(note);
  return m ? t("audit.unsatisfied", { s: t("satisfaction." + m[1]), min: m[2], words: m[3] }) : null;
}

function timeline(v: IncidentView, zone: string): HTMLElement {
  return h("table", { class: "grid compact", id: "incident-timeline" },
    h("thead", {}, h("tr", {}, ...["audit.when", "audit.who", "audit.what", "audit.note"].map((k) => h("th", {}, t(k))))),
    h("tbody", {}, ...v.timeline.map((a) => h("tr", {},
      h("td", { class: "nowrap" }, when(a.at, zone, true)),
      h("td", { class: "nowrap" }, a.actor === "scheduler" ? t("audit.system") : person(a.actor)),
      h("td", { class: "nowrap" }, a.action === "created" ? t("audit.created") : t("action." + a.action) +
        (a.from && a.to && a.from !== a.to ? ` (${t("status." + a.from)} → ${t("status." + a.to)})` : "")),
      h("td", {}, noteText({ id: 0, ticket_id: v.ticket.id, ...a } as AuditEntry, zone))))));
}

// incidentPage is #/tickets/5/incident: the form for the owner, the
// decision for a manager, the timeline for everyone.
export async function incidentPage(root: HTMLElement, id: number, me: Me) {
  const v = await api<IncidentView>(`/tickets/${id}/incident`);
  const tk = v.ticket;
  const z = tk.site_timezone;
  const r = v.report;
  document.title = `${t("inc.title")} #${tk.id}`;
  const msg = h("p", { class: "msg", id: "incident-msg", role: "status" });
  const redraw = (text: string, error = false) => void incidentPage(root, id, me).then(() => {
    const m = root.querySelector("#incident-msg");
    if (m) {
      m.textContent = text;
      m.classList.toggle("error", error);
    }
  });
  const areas: Record<string, HTMLTextAreaElement> = {};
  for (const s of v.sections) {
    areas[s] = h("textarea", { name: s, id: "inc-" + s, rows: 3, maxlength: 4000, disabled: !v.may.write }) as HTMLTextAreaElement;
    areas[s].value = (r as any)?.[s] || "";
  }
  const save = async (submit: boolean) => {
    const body: Record<string, unknown> = { submit };
    for (const s of v.sections) body[s] = areas[s].value.trim();
    try {
      await post(`/tickets/${id}/incident`, body, "PUT");
      redraw(t("owner.done"));
    } catch (e) {
      msg.textContent = errorText(e);
      msg.classList.add("error");
    }
  };
  const returnNote = h("textarea", { id: "inc-return-note", rows: 2, maxlength: 2000 }) as HTMLTextAreaElement;
  const decide = async (approve: boolean) => {
    try {
      await post(`/tickets/${id}/incident/decision`, { approve, note: returnNote.value.trim() });
      redraw(t("owner.done"));
    } catch (e) {
      msg.textContent = errorText(e);
      msg.classList.add("error");
    }
  };
  const state = r?.state || "none";
  clear(root,
    h("div", { class: "page-head ticket-head" },
      h("h2", {}, `${t("inc.title")} · #${tk.id} ${tk.title}`),
      h("div", { class: "head-links" },
        h("a", { href: `#/tickets/${tk.id}/incident-print`, class: "button ghost", id: "incident-print-link" }, t("inc.print")),
        h("a", { href: `#/tickets/${tk.id}`, class: "button ghost", id: "incident-back" }, t("ticket.back")))),
    h("div", { class: "badges" },
      h("span", { class: `badge ${tk.kind}` }, t("kind." + tk.kind)),
      h("span", { class: `badge status-${tk.status}` }, t("status." + tk.status)),
      h("span", { class: "badge inc-" + state, id: "incident-page-state" }, t("inc.state." + state))),
    h("p", { class: "muted" }, t("inc.ownerOnly", { who: tk.owner ? person(tk.owner) : t("owner.none") })),
    r?.state === "returned" && r.decision_note ? h("p", { class: "msg error", id: "incident-returned" }, `${t("inc.state.returned")}: ${r.decision_note} · ${person(r.decided_by)}`) : null,
    h("form", { class: "card action-form", id: "incident-form", onsubmit: (ev: Event) => { ev.preventDefault(); void save(true); } },
      ...v.sections.map((s) => h("label", { class: "wide" }, t("inc." + s), areas[s])),
      v.may.write ? h("div", { class: "buttons" },
        h("button", { type: "submit", id: "incident-submit" }, t("inc.submit")),
        h("button", { type: "button", class: "ghost", id: "incident-draft", onclick: () => void save(false) }, t("inc.saveDraft"))) : null),
    v.may.decide ? h("div", { class: "card action-form", id: "incident-decision" },
      h("h3", {}, t("inc.decision")),
      h("label", { class: "wide" }, t("inc.returnNote"), returnNote),
      h("div", { class: "buttons" },
        h("button", { type: "button", id: "incident-approve", onclick: () => void decide(true) }, t("inc.approve")),
        h("button", { type: "button", class: "ghost danger", id: "incident-return", onclick: () => void decide(false) }, t("inc.return")))) : null,
    r?.submitted_by ? h("p", { class: "muted" }, `${t("inc.submittedBy")}: ${person(r.submitted_by)} · ${when(r.submitted_at, z)}`,
      r.decided_by ? ` · ${t("inc.decidedBy")}: ${person(r.decided_by)} · ${when(r.decided_at, z)}` : "") : null,
    msg,
    h("h3", {}, t("inc.timeline")), timeline(v, z));
}

// incidentPrint is #/tickets/5/incident-print: the 突发事件处理表 on paper.
export async function incidentPrint(root: HTMLElement, id: number) {
  const v = await api<IncidentView>(`/tickets/${id}/incident`);
  const tk = v.ticket;
  const z = tk.site_timezone;
  const r = v.report;
  document.title = `${t("inc.title")} #${tk.id}`;
  const row = (label: string, value: string, cls = "") => h("tr", { class: cls }, h("th", {}, t(label)), h("td", { class: cls ? "lines lines-3" : "" }, value));
  const place = [tk.site_name || tk.site, tk.building, tk.floor, tk.unit].filter(Boolean).join(" ");
  clear(root,
    h("div", { class: "no-print print-bar" },
      h("button", { type: "button", id: "print-now", onclick: () => window.print() }, t("print.print")),
      h("a", { href: `#/tickets/${tk.id}/incident`, class: "button ghost" }, t("ticket.back"))),
    h("article", { class: "print-sheet", id: "incident-sheet" },
      h("header", { class: "sheet-head" }, h("div", {},
        h("div", { class: "sheet-site" }, v.site_name),
        h("h1", {}, t("inc.title")),
        h("div", { class: "sheet-no" }, `${t("print.no")} ${String(tk.id).padStart(6, "0")} · ${t("kind." + tk.kind)} · ${t("inc.state." + (r?.state || "none"))}`))),
      h("table", { class: "sheet" }, h("tbody", {},
        row("print.problem", tk.title),
        row("print.address", place),
        row("print.accepted", when(tk.created_at, z)),
        row("owner.owner", person(tk.owner)),
        ...v.sections.map((s) => row("inc." + s, (r as any)?.[s] || "", "blank")),
        row("inc.submittedBy", r?.submitted_by ? `${person(r.submitted_by)} · ${when(r.submitted_at, z)}` : ""),
        row("inc.decidedBy", r?.decided_by ? `${person(r.decided_by)} · ${when(r.decided_at, z)}` : ""),
        h("tr", { class: "blank" }, h("th", {}, t("inc.sign")), h("td", { class: "lines" }, "")))),
      h("h3", {}, t("inc.timeline")), timeline(v, z),
      h("footer", { class: "sheet-foot" }, t("print.printed", { at: when(new Date().toISOString(), z) }))));
}

// ownedCases is the "my cases" tab of my work: the open cases the person
// owns, with the owner's next deadline (reply, weekly call, follow-up) first.
export async function ownedCases(box: HTMLElement, me: Me, countdown: (step: string, due: string, now: number) => { text: string; overdue: boolean }) {
  const { tickets } = await api<{ tickets: Ticket[] }>(`/tickets?mine=owner&open=true&limit=200`);
  const details = await Promise.all(tickets.map((tk) => api<TicketDetail>(`/tickets/${tk.id}`)));
  const ownersSteps = ["reply", "weekly_call", "follow_up"];
  const now = Date.now();
  const next = (tk: TicketDetail) => Math.min(...(tk.deadlines || []).filter((d) => d.state === "pending").map((d) => Date.parse(d.due_at)), Number.MAX_SAFE_INTEGER);
  details.sort((a, b) => next(a) - next(b) || a.id - b.id);
  clear(box,
    h("p", { class: "muted", id: "owned-count" }, t("work.ownedCount", { n: details.length })),
    details.length === 0 ? h("p", { class: "empty" }, t("work.ownedEmpty")) :
      h("div", { class: "work-list", id: "owned-list" }, ...details.map((tk) => {
        const dues = (tk.deadlines || []).filter((d) => d.state === "pending").map((d) => {
          const c = countdown(d.step, d.due_at, now);
          return h("span", { class: "countdown" + (c.overdue ? " overdue" : "") + (ownersSteps.includes(d.step) ? " owners" : ""), "data-due": d.due_at, "data-step": d.step }, c.text);
        });
        return h("article", { class: `work-card kind-${tk.kind}`, "data-ticket": tk.id },
          h("div", { class: "work-top" },
            h("a", { href: `#/tickets/${tk.id}`, class: "work-id" }, `#${tk.id}`),
            h("span", { class: `badge ${tk.kind}` }, t("kind." + tk.kind)),
            h("span", { class: `badge status-${tk.status}` }, t("status." + tk.status))),
          h("a", { href: `#/tickets/${tk.id}`, class: "work-title" }, tk.title),
          h("div", { class: "muted" }, `${t("ticket.assignee")}: ${tk.assignee ? person(tk.assignee) : "—"}`),
          dues.length ? h("div", { class: "work-dues" }, ...dues) : null);
      })));
}
