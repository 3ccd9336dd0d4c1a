// 值班 and 钥匙: the control room's shift (who is on duty, the handover
// sheet to sign and to accept, the shift's duty log), the duty log of a day
// with search and its print view (#/duty/log, #/duty/log/print), one sheet's
// print view (#/duty/<id>/print), and the key register (#/keys): lend,
// return, what is out and overdue. Every time is in the site's zone.
import { api, APIError, Me } from "../api";
import { clear, h, location } from "../dom";
import { errorText, fromLocalInput, person, when } from "../format";
import { currentLang, t } from "../i18n";
import "./duty.css";
import { Page } from "../page";

interface Instance { site: string; shift: string; label: string; start: string; end: string }
interface AlarmItem { key: string; rule: string; device: string; severity?: string; state: string; since: string }
interface TicketItem {
  id: number; kind: string; priority: string; status: string; title: string; building?: string; unit?: string;
  assignee?: string; created_at: string; step?: string; due_at?: string; overdue: boolean;
}
interface Entry { id: number; site: string; shift_start: string; at: string; kind: string; body: string; body_en?: string; author: string }
interface Loan {
  id: number; key_id: number; label: string; key_name: string; borrower: string; lent_by: string; lent_at: string;
  due_at: string; note?: string; returned_at?: string; returned_to?: string; overdue: boolean;
}
interface Sheet {
  id: number; shift: Instance; state: "built" | "signed" | "accepted"; built_at: string; built_by: string;
  signed_by?: string; signed_at?: string; sign_note?: string; accepted_by?: string; accepted_at?: string; accept_note?: string;
  keys_counted?: number; reminded: number; next: Instance; alarms: AlarmItem[]; emergencies: TicketItem[]; tickets: TicketItem[];
  entries: Entry[]; keys_out: Loan[]; keys_total: number;
}
interface Duty {
  site: string; now: string; shift: Instance; next: Instance; previous: Instance; on_duty: Record<string, string[]>;
  holdover: boolean; pending: Sheet[]; sheet?: Sheet; entries: Entry[]; entry_kinds: string[];
}
interface Key { id: number; label: string; name: string; loan?: Loan }

const departments = ["control_room", "engineering", "security", "customer_service", "management"];

// The site a page is about: the account's own, else site= of the address,
// else the first site the desk knows from its gateways.
async function siteOf(params: URLSearchParams): Promise<string> {
  const me = await api<Me>("/me");
  if (me.site) return me.site;
  if (params.get("site")) return params.get("site")!;
  const { gateways } = await api<{ gateways: { site: string }[] | null }>("/gateways");
  return gateways?.[0]?.site || "";
}

// refusal is the desk's refusal as a sentence: its own words name who may do
// what (the outgoing shift's operator, the key's borrower).
function refusal(e: unknown): string {
  if (e instanceof APIError && (e.status === 403 || e.status === 409)) return t("duty.refused", { msg: e.message });
  return errorText(e);
}

// defaultLabels are the desk's default shift names (desk/shift.DefaultPlan):
// in English they read as such; a site's own labels are shown as written.
const defaultLabels: Record<string, string> = { night: "夜班", day: "早班", evening: "中班" };

export function shiftLabel(i: { shift: string; label: string }): string {
  return currentLang() !== "zh-CN" && defaultLabels[i.shift] === i.label ? t("duty.shift." + i.shift) : i.label;
}

function shiftText(i: Instance, zone: string): string {
  return `${shiftLabel(i)} ${when(i.start, zone)}–${when(i.end, zone).slice(-5)}`;
}

function dayOf(iso: string, zone: string): string {
  const p = new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
  return p; // YYYY-MM-DD
}

function ticketRow(tk: TicketItem, zone: string): HTMLElement {
  return h("tr", { class: tk.overdue ? "overdue" : "" },
    h("td", {}, h("a", { href: `#/tickets/${tk.id}` }, `#${tk.id}`)),
    h("td", {}, h("span", { class: "badge " + tk.kind }, t("kind." + tk.kind))),
    h("td", {}, tk.title, " ", h("span", { class: "muted" }, location(tk))),
    h("td", {}, t("status." + tk.status), tk.assignee ? ` · ${person(tk.assignee)}` : ""),
    h("td", { class: tk.overdue ? "red" : "" }, tk.due_at ? (tk.overdue ? t("duty.overdue") + " · " : "") + t("duty.dueAt", { step: t("step." + tk.step), at: when(tk.due_at, zone) }) : ""));
}

// entryText is an entry in the UI's language: the desk's own events are
// written in both (body, body_en); people's notes are shown as written.
function entryText(e: Entry): string {
  return (currentLang() === "en" && e.body_en) || e.body;
}

function entryRow(e: Entry, zone: string): HTMLElement {
  return h("tr", { class: "entry-" + e.kind },
    h("td", { class: "duty-at" }, when(e.at, zone)),
    h("td", {}, h("span", { class: "badge" }, t("duty.kind." + e.kind))),
    h("td", { class: "entry-body" }, entryText(e)),
    h("td", {}, person(e.author)));
}

function loanText(l: Loan, zone: string): string {
  return `${l.label} ${l.key_name} → ${l.borrower} · ${when(l.lent_at, zone)} · ${t("keys.due")} ${when(l.due_at, zone)}`;
}

// sheetView is a handover sheet: what it hands over, and who signed and accepted it.
function sheetView(sh: Sheet, zone: string, actions: HTMLElement | null): HTMLElement {
  const section = (title: string, rows: HTMLElement[], head?: string[]) =>
    h("section", { class: "sheet-sec" }, h("h4", {}, title),
      rows.length === 0 ? h("p", { class: "empty" }, t("duty.none")) :
        h("table", { class: "grid compact" }, head ? h("thead", {}, h("tr", {}, ...head.map((c) => h("th", {}, t(c))))) : null, h("tbody", {}, ...rows)));
  const keysIn = sh.keys_total - sh.keys_out.length;
  const counted = sh.keys_counted === undefined || sh.keys_counted === null ? null :
    h("p", { class: sh.keys_counted === keysIn ? "" : "red", id: `sheet-${sh.id}-count` },
      sh.keys_counted === keysIn ? t("duty.keysOk", { n: sh.keys_counted }) : t("duty.keysMismatch", { n: sh.keys_counted, want: keysIn }));
  return h("article", { class: "duty-sheet state-" + sh.state, id: `sheet-${sh.id}`, "data-state": sh.state },
    h("div", { class: "sheet-title" },
      h("h3", {}, t("duty.sheet", { shift: shiftText(sh.shift, zone) })),
      h("span", { class: "badge state-" + sh.state }, t("duty.state." + sh.state)),
      sh.reminded > 0 && sh.state !== "accepted" ? h("span", { class: "badge escalated" }, t("duty.reminded", { n: sh.reminded })) : null,
      h("a", { class: "no-print", href: `#/duty/${sh.id}/print` }, t("duty.print"))),
    h("p", { class: "muted" }, t("duty.builtBy", { who: person(sh.built_by), at: when(sh.built_at, zone) }), " · ", t("duty.next"), ": ", shiftText(sh.next, zone)),
    section(t("duty.sec.alarms", { n: sh.alarms.length }), sh.alarms.map((a) => h("tr", {},
      h("td", {}, h("span", { class: "badge " + (a.severity === "critical" ? "emergency" : "") }, t("severity." + (a.severity || "info")))),
      h("td", {}, a.rule, " · ", a.device), h("td", {}, when(a.since, zone)), h("td", {}, t("alarm." + a.state))))),
    section(t("duty.sec.emergencies", { n: sh.emergencies.length }), sh.emergencies.map((tk) => ticketRow(tk, zone))),
    section(t("duty.sec.tickets", { n: sh.tickets.length }), sh.tickets.map((tk) => ticketRow(tk, zone))),
    section(t("duty.sec.entries", { n: sh.entries.length }), sh.entries.map((e) => entryRow(e, zone))),
    section(t("duty.sec.keys", { in: keysIn, total: sh.keys_total, out: sh.keys_out.length }),
      sh.keys_out.map((l) => h("tr", { class: l.overdue ? "overdue" : "" }, h("td", { class: l.overdue ? "red" : "" }, loanText(l, zone), l.overdue ? ` · ${t("duty.overdue")}` : "")))),
    h("div", { class: "signatures" },
      h("p", { id: `sheet-${sh.id}-signed` }, sh.signed_at ? t("duty.signedBy", { who: person(sh.signed_by), at: when(sh.signed_at, zone) }) : t("duty.notSigned"),
        sh.sign_note ? h("span", { class: "muted" }, ` — ${sh.sign_note}`) : null),
      h("p", { id: `sheet-${sh.id}-accepted` }, sh.accepted_at ? t("duty.acceptedBy", { who: person(sh.accepted_by), at: when(sh.accepted_at, zone) }) : t("duty.notAccepted"),
        sh.accept_note ? h("span", { class: "muted" }, ` — ${sh.accept_note}`) : null),
      counted),
    actions);
}

// sheetActions are the buttons a sheet offers now: rebuild and sign while
// unsigned, accept with the key count once signed.
function sheetActions(sh: Sheet, site: string, redraw: () => void): HTMLElement | null {
  if (sh.state === "accepted") return null;
  const msg = h("p", { class: "msg error", role: "alert" });
  const run = async (fn: () => Promise<unknown>) => {
    msg.textContent = "";
    try {
      await fn();
      redraw();
    } catch (e) {
      msg.textContent = refusal(e);
    }
  };
  const q = `?site=${encodeURIComponent(site)}`;
  const note = h("input", { class: "sheet-note", placeholder: t("duty.note"), "aria-label": t("duty.note"), maxlength: 500 }) as HTMLInputElement;
  if (sh.state === "built") {
    return h("div", { class: "sheet-actions no-print" }, note,
      h("button", { type: "button", class: "ghost", id: `rebuild-${sh.id}`, onclick: () => run(() =>
        api(`/duty/sheets${q}`, { method: "POST", body: JSON.stringify({ shift_start: sh.shift.start }) })) }, t("duty.rebuild")),
      h("button", { type: "button", id: `sign-${sh.id}`, onclick: () => run(() =>
        api(`/duty/sheets/${sh.id}/sign${q}`, { method: "POST", body: JSON.stringify({ note: note.value }) })) }, t("duty.sign")),
      msg);
  }
  const count = h("input", { type: "number", min: 0, id: `count-${sh.id}`, inputmode: "numeric", required: true,
    value: String(sh.keys_total - sh.keys_out.length), "aria-label": t("duty.keysCounted") }) as HTMLInputElement;
  return h("form", { class: "sheet-actions no-print", onsubmit: (ev: Event) => {
    ev.preventDefault();
    run(() => api(`/duty/sheets/${sh.id}/accept${q}`, { method: "POST", body: JSON.stringify({ note: note.value, keys_counted: Number(count.value) }) }));
  } }, h("label", {}, t("duty.keysCounted"), count), note, h("button", { type: "submit", id: `accept-${sh.id}` }, t("duty.accept")), msg);
}

async function renderDuty(root: HTMLElement, site: string, redraw: () => void) {
  const { duty: d, site_name: name, site_timezone: zone } = await api<{ duty: Duty; site_name: string; site_timezone: string }>(`/duty?site=${encodeURIComponent(site)}`);
  const q = `?site=${encodeURIComponent(site)}`;
  const msg = h("p", { class: "msg error", role: "alert" });
  const kind = h("select", { id: "entry-kind", "aria-label": t("duty.entryKind") }, ...d.entry_kinds.map((k) => h("option", { value: k }, t("duty.kind." + k)))) as HTMLSelectElement;
  const body = h("textarea", { id: "entry-body", rows: 2, maxlength: 2000, "aria-label": t("duty.what"), required: true }) as HTMLTextAreaElement;
  const sheets = [...d.pending, ...(d.sheet && !d.pending.some((p) => p.id === d.sheet!.id) ? [d.sheet] : [])];
  clear(root,
    h("div", { class: "page-head" },
      h("h2", {}, t("duty.title", { site: name })),
      h("div", { class: "head-links" }, h("a", { href: `#/duty/log${q}`, id: "duty-log-link" }, t("duty.log")), " · ", h("a", { href: `#/keys${q}` }, t("nav.keys")))),
    h("div", { class: "tiles" },
      h("div", { class: "tile", id: "duty-shift" }, h("small", {}, t("duty.now")), h("strong", {}, shiftText(d.shift, zone))),
      h("div", { class: "tile" }, h("small", {}, t("duty.next")), h("strong", {}, shiftText(d.next, zone)))),
    d.holdover ? h("p", { class: "banner warn", id: "duty-holdover", role: "status" }, t("duty.holdover", { shift: shiftText(d.previous, zone) })) : null,
    h("h3", {}, t("duty.onDuty")),
    h("table", { class: "grid compact", id: "on-duty" }, h("tbody", {}, ...departments.map((dep) => h("tr", {},
      h("th", {}, t("duty.dept." + dep)),
      h("td", { "data-dept": dep }, (d.on_duty[dep] || []).length ? d.on_duty[dep].map(person).join("、") : h("span", { class: "empty" }, t("duty.nobody"))))))),
    h("h3", {}, t("duty.pending")),
    sheets.length === 0 ? h("p", { class: "empty" }, t("duty.noPending")) : null,
    ...sheets.map((sh) => sheetView(sh, zone, sheetActions(sh, site, redraw))),
    !d.sheet ? h("p", {}, h("button", { type: "button", class: "ghost", id: "build-sheet", onclick: async () => {
      msg.textContent = "";
      try {
        await api(`/duty/sheets${q}`, { method: "POST", body: JSON.stringify({}) });
        redraw();
      } catch (e) { msg.textContent = refusal(e); }
    } }, t("duty.build"))) : null,
    h("h3", {}, t("duty.entries")),
    h("form", { class: "entry-form", id: "entry-form", onsubmit: async (ev: Event) => {
      ev.preventDefault();
      msg.textContent = "";
      try {
        await api(`/duty/entries${q}`, { method: "POST", body: JSON.stringify({ kind: kind.value, body: body.value }) });
        redraw();
      } catch (e) { msg.textContent = errorText(e); }
    } }, kind, body, h("button", { type: "submit" }, t("duty.addEntry"))),
    msg,
    d.entries.length === 0 ? h("p", { class: "empty" }, t("duty.noEntries")) :
      h("table", { class: "grid compact", id: "duty-entries" }, h("tbody", {}, ...d.entries.map((e) => entryRow(e, zone)))));
}

async function renderLog(root: HTMLElement, site: string, params: URLSearchParams, print: boolean) {
  const zoneGuess = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const qs = new URLSearchParams({ site });
  if (params.get("day")) qs.set("from", params.get("day")!);
  if (params.get("q")) qs.set("q", params.get("q")!);
  const { log, site_name: name, site_timezone: zone } = await api<{ log: { from: string; sheets: Sheet[]; entries: Entry[]; loans: Loan[] }; site_name: string; site_timezone: string }>(`/duty/log?${qs}`);
  const day = params.get("day") || dayOf(log.from, zone || zoneGuess);
  const dayInput = h("input", { type: "date", id: "log-day", value: day }) as HTMLInputElement;
  const search = h("input", { type: "search", id: "log-q", value: params.get("q") || "", placeholder: t("duty.search"), maxlength: 100 }) as HTMLInputElement;
  const link = (p: boolean) => `#/duty/log${p ? "/print" : ""}?${new URLSearchParams({ site, day: dayInput.value, ...(search.value ? { q: search.value } : {}) })}`;
  clear(root,
    h("div", { class: print ? "duty-print" : "" },
      print ? h("div", { class: "print-bar no-print" }, h("button", { type: "button", onclick: () => window.print() }, t("duty.print")), h("a", { href: link(false) }, t("duty.back"))) :
        h("div", { class: "page-head" }, h("h2", {}, t("duty.logTitle", { site: name, day })), h("a", { href: `#/duty?site=${encodeURIComponent(site)}` }, t("duty.back"))),
      print ? h("h1", { class: "print-title" }, t("duty.logTitle", { site: name, day })) : null,
      print ? null : h("form", { class: "filters", id: "log-form", onsubmit: (ev: Event) => { ev.preventDefault(); window.location.hash = link(false); } },
        h("label", {}, t("duty.day"), dayInput), h("label", {}, t("duty.search"), search),
        h("button", { type: "submit" }, t("duty.show")), h("a", { class: "button-link", href: link(true), id: "log-print" }, t("duty.print"))),
      ...log.sheets.map((sh) => sheetView(sh, zone, null)),
      h("h3", {}, t("duty.entries").replace(/本班|of this shift/, "")),
      log.entries.length === 0 ? h("p", { class: "empty" }, t("duty.noEntries")) :
        h("table", { class: "grid compact", id: "log-entries" },
          h("thead", {}, h("tr", {}, ...["duty.at", "duty.entryKind", "duty.what", "duty.by"].map((k) => h("th", {}, t(k))))),
          h("tbody", {}, ...log.entries.map((e) => entryRow(e, zone)))),
      h("h3", {}, t("duty.loans")),
      log.loans.length === 0 ? h("p", { class: "empty" }, t("duty.none")) :
        h("table", { class: "grid compact", id: "log-loans" }, h("tbody", {}, ...log.loans.map((l) => h("tr", {},
          h("td", {}, loanText(l, zone)),
          h("td", { class: l.overdue ? "red" : "" }, l.returned_at ? `${t("keys.return")} ${when(l.returned_at, zone)} · ${person(l.returned_to)}` : l.overdue ? t("duty.overdue") : t("keys.out", { who: l.borrower })))))),
      print ? h("p", { class: "sheet-foot" }, t("duty.printed", { at: when(new Date().toISOString(), zone) })) : null));
}

async function renderSheetPrint(root: HTMLElement, site: string, id: string) {
  const sh = await api<Sheet>(`/duty/sheets/${encodeURIComponent(id)}?site=${encodeURIComponent(site)}`);
  const { site_name: name, site_timezone: zone } = await api<{ site_name: string; site_timezone: string }>(`/duty?site=${encodeURIComponent(site)}`);
  clear(root, h("div", { class: "duty-print" },
    h("div", { class: "print-bar no-print" }, h("button", { type: "button", onclick: () => window.print() }, t("duty.print")), h("a", { href: `#/duty?site=${encodeURIComponent(site)}` }, t("duty.back"))),
    h("h1", { class: "print-title" }, `${name} · ${t("duty.sheet", { shift: shiftText(sh.shift, zone) })}`),
    sheetView(sh, zone, null),
    h("table", { class: "sheet" }, h("tbody", {},
      h("tr", {}, h("th", {}, t("duty.signature")), h("td", { class: "lines-2" }, sh.signed_by ? `${person(sh.signed_by)} ${when(sh.signed_at, zone)}` : "")),
      h("tr", {}, h("th", {}, t("duty.signatureIn")), h("td", { class: "lines-2" }, sh.accepted_by ? `${person(sh.accepted_by)} ${when(sh.accepted_at, zone)}` : "")))),
    h("p", { class: "sheet-foot" }, t("duty.printed", { at: when(new Date().toISOString(), zone) }))));
}

export const dutyPage: Page = {
  route: "duty",
  nav: "nav.duty",
  roles: ["admin", "manager", "control_room"],
  refreshMs: 30000,
  async render(root, params) {
    const site = await siteOf(params);
    const id = params.get("id");
    const print = params.get("print") === "1";
    document.body.classList.toggle("printing", print);
    if (id === "log") return renderLog(root, site, params, print);
    if (id && print) return renderSheetPrint(root, site, id);
    const redraw = () => { renderDuty(root, site, redraw).catch((e) => clear(root, h("p", { class: "msg error" }, errorText(e)))); };
    await renderDuty(root, site, redraw);
  },
};

async function renderKeys(root: HTMLElement, site: string, redraw: () => void) {
  const q = `?site=${encodeURIComponent(site)}`;
  const [{ keys, site_timezone: zone }, { site_name: name }] = await Promise.all([
    api<{ keys: Key[]; site_timezone: string }>(`/keys${q}`),
    api<{ site_name: string }>(`/duty${q}`),
  ]);
  const msg = h("p", { class: "msg error", role: "alert" });
  const run = async (fn: () => Promise<unknown>) => {
    msg.textContent = "";
    try {
      await fn();
      redraw();
    } catch (e) { msg.textContent = refusal(e); }
  };
  const out = keys.filter((k) => k.loan).length;
  const label = h("input", { id: "key-label", maxlength: 64, required: true, "aria-label": t("keys.label"), placeholder: t("keys.label") }) as HTMLInputElement;
  const keyName = h("input", { id: "key-name", maxlength: 100, required: true, "aria-label": t("keys.name"), placeholder: t("keys.name") }) as HTMLInputElement;
  const row = (k: Key) => {
    if (k.loan) {
      const l = k.loan;
      return h("tr", { class: l.overdue ? "overdue" : "", "data-key": k.label },
        h("td", {}, k.label), h("td", {}, k.name),
        h("td", { class: l.overdue ? "red" : "" }, t("keys.out", { who: l.borrower }), l.overdue ? ` · ${t("duty.overdue")}` : ""),
        h("td", {}, when(l.lent_at, zone)), h("td", { class: l.overdue ? "red" : "" }, when(l.due_at, zone)),
        h("td", {}, h("button", { type: "button", class: "ghost", id: `return-${k.id}`, onclick: () => run(() => api(`/keys/${k.id}/return${q}`, { method: "POST" })) }, t("keys.return"))));
    }
    const who = h("input", { id: `borrower-${k.id}`, maxlength: 100, required: true, placeholder: t("keys.borrower"), "aria-label": t("keys.borrower") }) as HTMLInputElement;
    const due = h("input", { type: "datetime-local", id: `due-${k.id}`, title: t("keys.dueOptional"), "aria-label": t("keys.dueOptional") }) as HTMLInputElement;
    return h("tr", { "data-key": k.label },
      h("td", {}, k.label), h("td", {}, k.name), h("td", {}, t("keys.in")), h("td", {}), h("td", {}),
      h("td", {}, h("form", { class: "inline", onsubmit: (ev: Event) => {
        ev.preventDefault();
        const dueAt = fromLocalInput(due.value, zone);
        run(() => api(`/keys/${k.id}/lend${q}`, { method: "POST", body: JSON.stringify({ borrower: who.value, ...(dueAt ? { due_at: dueAt } : {}) }) }));
      } }, who, due, h("button", { type: "submit", id: `lend-${k.id}` }, t("keys.lend")))));
  };
  clear(root,
    h("div", { class: "page-head" }, h("h2", {}, t("keys.title", { site: name })),
      h("strong", { id: "keys-count" }, t("keys.count", { in: keys.length - out, total: keys.length }))),
    msg,
    keys.length === 0 ? h("p", { class: "empty" }, t("keys.none")) :
      h("table", { class: "grid", id: "keys" },
        h("thead", {}, h("tr", {}, ...["keys.label", "keys.name", "keys.state", "keys.lentAt", "keys.due", ""].map((k) => h("th", {}, k ? t(k) : "")))),
        h("tbody", {}, ...keys.map(row))),
    h("form", { class: "filters", id: "key-add", onsubmit: (ev: Event) => {
      ev.preventDefault();
      run(() => api(`/keys${q}`, { method: "POST", body: JSON.stringify({ label: label.value, name: keyName.value }) }));
    } }, label, keyName, h("button", { type: "submit" }, t("keys.add"))));
}

export const keysPage: Page = {
  route: "keys",
  nav: "nav.keys",
  roles: ["admin", "manager", "control_room"],
  refreshMs: 30000,
  async render(root, params) {
    const site = await siteOf(params);
    const redraw = () => { renderKeys(root, site, redraw).catch((e) => clear(root, h("p", { class: "msg error" }, errorText(e)))); };
    await renderKeys(root, site, redraw);
  },
};
