// 客服区域 and 访问记录 (issue 15 parts 4 and 5): the assistants' areas of a
// site (households by building or by listed unit, each with its assistant;
// managers create, reassign and delete them, and a reassignment moves the
// area's open cases with the note given), and the access log of residents'
// data (who saw which unmasked phone or household record, when and why).
// smsCard is the ticket page's text-message box of a top-up reminder.
import { api, APIError, Me, TicketDetail } from "../api";
import { busy, clear, h } from "../dom";
import { t } from "../i18n";
import { person, staff, when } from "../format";
import { Page } from "../page";

interface Area {
  id: number;
  site: string;
  name: string;
  assistant: string;
  buildings: string[];
  units: string[];
  households: number;
  open_cases: number;
}

interface Access {
  id: number;
  at: string;
  site: string;
  actor: string;
  role: string;
  subject: string;
  subject_id: string;
  unit?: string;
  what: string;
  reason: string;
  route: string;
}

interface SMSMessage {
  id: number;
  status: string;
  phone: string;
  provider: string;
  template_id: string;
  code?: string;
  detail?: string;
  by: string;
  created_at: string;
  receipt_at?: string;
}

const siteKey = "estate.privacy.site";

// siteField is the site the page works on: the account's own, else the one
// last typed (remembered for this tab).
function siteField(me: Me, onchange: () => void): HTMLInputElement {
  const el = h("input", { id: "pv-site", name: "site", required: true, value: me.site || sessionStorage.getItem(siteKey) || "",
    readonly: me.site ? true : undefined }) as HTMLInputElement;
  el.addEventListener("change", () => { sessionStorage.setItem(siteKey, el.value.trim()); onchange(); });
  return el;
}

// ml is a cell's label, shown where a table becomes a list of cards (phones).
const ml = (key: string) => h("small", { class: "mobile-label" }, t(key));

const list = (s: string) => s.split(/[,，;；\s]+/).map((v) => v.trim()).filter(Boolean);

function errText(e: any): string {
  if (e instanceof APIError) return t("form.failed", { msg: e.message + (e.hint ? " — " + e.hint : "") });
  return t("form.failed", { msg: String(e?.message || e) });
}

async function drawAreas(box: HTMLElement, site: string, me: Me, edit: (a: Area) => void) {
  if (!site) {
    clear(box, h("p", { class: "msg" }, t("area.needSite")));
    return;
  }
  const { areas } = await api<{ areas: Area[] }>(`/areas?site=${encodeURIComponent(site)}`);
  const manages = me.role === "admin" || me.role === "manager";
  const msg = h("p", { class: "msg", id: "area-list-msg", role: "status" });
  clear(box,
    h("h3", {}, t("area.count", { n: areas.length })),
    areas.length === 0 ? h("p", { class: "empty wide", id: "areas-empty" }, t("area.empty")) :
      h("div", { class: "table-wrap" }, h("table", { class: "grid", id: "areas" },
        h("thead", {}, h("tr", {}, ...["area.name", "area.assistant", "area.buildings", "area.units", "area.households", "area.openCases", ""].map((k) => h("th", {}, k ? t(k) : "")))),
        h("tbody", {}, ...areas.map((a) => h("tr", { "data-area": a.id, class: a.assistant === me.name ? "mine" : "" },
          h("td", {}, a.name),
          h("td", {}, ml("area.assistant"), person(a.assistant)),
          h("td", {}, ml("area.buildings"), a.buildings.map((b) => t("area.building", { b })).join("、") || "—"),
          h("td", {}, ml("area.units"), a.units.join("、") || "—"),
          h("td", { class: "num" }, ml("area.households"), a.households),
          h("td", { class: "num" }, ml("area.openCases"), a.open_cases),
          h("td", { class: "actions" }, manages ? h("button", { type: "button", class: "ghost", "data-edit": a.id, onclick: () => edit(a) }, t("area.edit")) : null,
            manages ? h("button", { type: "button", class: "ghost", "data-delete": a.id, onclick: async () => {
              if (!window.confirm(t("area.confirmDelete", { name: a.name }))) return;
              try {
                const r = await api<{ moved: number[] }>(`/areas/${a.id}`, { method: "DELETE" });
                await drawAreas(box, site, me, edit);
                box.querySelector("#area-list-msg")!.textContent = t("area.deleted", { name: a.name, n: r.moved.length });
              } catch (e) {
                msg.textContent = errText(e);
              }
            } }, t("area.delete")) : null)))))),
    msg);
}

export const areasPage: Page = {
  route: "areas",
  nav: "nav.areas",
  roles: ["admin", "manager", "assistant", "control_room"],
  async render(root: HTMLElement) {
    if (root.querySelector("#area-form input:focus, #area-form textarea:focus")) return;
    const me = await api<Me>("/me");
    const listBox = h("section", { class: "card wide", id: "area-list", "aria-live": "polite" });
    let editing: Area | null = null;
    const redraw = () => busy(listBox, () => drawAreas(listBox, site.value.trim(), me, startEdit));
    const site = siteField(me, () => void redraw());
    const name = h("input", { id: "area-name", name: "name", required: true, maxlength: 64 }) as HTMLInputElement;
    const assistants = staff().filter((s) => s.role === "assistant" || s.role === "manager");
    const assistant = h("select", { id: "area-assistant", name: "assistant", required: true },
      h("option", { value: "" }, t("area.choose")),
      ...assistants.map((s) => h("option", { value: s.name }, `${s.display_name || s.name} (${t("role." + s.role)})`))) as HTMLSelectElement;
    const buildings = h("input", { id: "area-buildings", name: "buildings", placeholder: t("area.buildingsHint") }) as HTMLInputElement;
    const units = h("input", { id: "area-units", name: "units", placeholder: t("area.unitsHint") }) as HTMLInputElement;
    const note = h("input", { id: "area-note", name: "note", placeholder: t("area.noteHint") }) as HTMLInputElement;
    const title = h("h3", {}, t("area.new"));
    const submit = h("button", { type: "submit", id: "area-submit" }, t("area.save"));
    const cancel = h("button", { type: "button", class: "ghost", id: "area-cancel", hidden: true }, t("area.cancel"));
    const formMsg = h("p", { class: "msg wide", id: "area-msg", role: "status" });
    const form = h("form", { class: "card", id: "area-form" }, title,
      h("p", { class: "wide muted" }, t("area.help")),
      h("label", {}, t("area.name"), name), h("label", {}, t("area.assistant"), assistant),
      h("label", {}, t("area.buildings"), buildings), h("label", {}, t("area.units"), units),
      h("label", { class: "wide" }, t("area.note"), note),
      h("div", { class: "wide actions" }, submit, cancel), formMsg) as HTMLFormElement;
    function startEdit(a: Area) {
      editing = a;
      title.textContent = t("area.editing", { name: a.name });
      name.value = a.name;
      assistant.value = a.assistant;
      buildings.value = a.buildings.join(", ");
      units.value = a.units.join(", ");
      note.value = "";
      cancel.hidden = false;
      formMsg.textContent = "";
      name.focus();
    }
    const reset = () => {
      editing = null;
      form.reset();
      title.textContent = t("area.new");
      cancel.hidden = true;
    };
    cancel.addEventListener("click", reset);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = JSON.stringify({ site: site.value.trim(), name: name.value.trim(), assistant: assistant.value,
        buildings: list(buildings.value), units: list(units.value), note: note.value.trim() });
      try {
        const r = await api<{ area: Area; moved: number[] }>(editing ? `/areas/${editing.id}` : "/areas", { method: editing ? "PUT" : "POST", body });
        reset();
        formMsg.className = "msg ok wide";
        formMsg.textContent = t("area.saved", { name: r.area.name, n: r.moved.length });
        await redraw();
      } catch (e) {
        formMsg.className = "msg error wide";
        formMsg.textContent = errText(e);
      }
    });
    const manages = me.role === "admin" || me.role === "manager";
    clear(root,
      h("div", { class: "page-head" }, h("h2", {}, t("area.title")), h("label", { class: "inline" }, t("hh.site"), site)),
      listBox,
      manages ? form : h("p", { class: "muted" }, t("area.readOnly")));
    await redraw();
  },
};

async function drawAccess(box: HTMLElement, q: URLSearchParams) {
  const { access } = await api<{ access: Access[] }>("/access-log?" + q.toString());
  clear(box,
    h("h3", {}, t("access.count", { n: access.length })),
    access.length === 0 ? h("p", { class: "empty wide", id: "access-empty" }, t("access.empty")) :
      h("div", { class: "table-wrap" }, h("table", { class: "grid", id: "access" },
        h("thead", {}, h("tr", {}, ...["access.at", "access.actor", "access.which", "access.what", "access.reason"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, ...access.map((a) => h("tr", { "data-access": a.id },
          h("td", {}, when(a.at)),
          h("td", {}, `${person(a.actor)} (${t("role." + a.role)})`),
          h("td", {}, a.subject === "ticket" ? h("a", { href: `#/tickets/${a.subject_id}` }, t("access.ticket", { id: a.subject_id })) : t("access.s." + a.subject, { id: a.subject_id }),
            a.unit && a.subject !== "unit" ? h("small", { class: "muted" }, " " + a.unit) : null),
          h("td", {}, ml("access.what"), t("access.w." + a.what)),
          h("td", {}, ml("access.reason"), t("access.r." + a.reason) === "access.r." + a.reason ? a.reason : t("access.r." + a.reason))))))));
}

export const accessPage: Page = {
  route: "access",
  nav: "nav.access",
  roles: ["admin", "manager"],
  async render(root: HTMLElement, params: URLSearchParams) {
    if (root.querySelector("#access-filter input:focus")) return;
    const me = await api<Me>("/me");
    const box = h("section", { class: "card wide", id: "access-list", "aria-live": "polite" });
    const actor = h("input", { id: "access-actor", name: "actor", value: params.get("actor") || "" }) as HTMLInputElement;
    const unit = h("input", { id: "access-unit", name: "unit", value: params.get("unit") || "" }) as HTMLInputElement;
    const from = h("input", { id: "access-from", name: "from", type: "date", value: params.get("from") || "" }) as HTMLInputElement;
    const site = siteField(me, () => void go());
    const msg = h("p", { class: "msg error wide", id: "access-msg" });
    const go = async () => {
      const q = new URLSearchParams({ limit: "500" });
      if (site.value.trim()) q.set("site", site.value.trim());
      if (actor.value.trim()) q.set("actor", actor.value.trim());
      if (unit.value.trim()) q.set("unit", unit.value.trim());
      if (from.value) q.set("from", from.value + "T00:00:00+08:00");
      msg.textContent = "";
      try {
        await busy(box, () => drawAccess(box, q));
      } catch (e) {
        msg.textContent = errText(e);
      }
    };
    const form = h("form", { class: "card filters", id: "access-filter" },
      h("label", {}, t("hh.site"), site), h("label", {}, t("access.actor"), actor), h("label", {}, t("access.unit"), unit),
      h("label", {}, t("access.from"), from), h("button", { type: "submit", id: "access-go" }, t("access.search")), msg) as HTMLFormElement;
    form.addEventListener("submit", (ev) => { ev.preventDefault(); void go(); });
    clear(root, h("div", { class: "page-head" }, h("h2", {}, t("access.title"))), h("p", { class: "muted" }, t("access.help")), form, box);
    await go();
  },
};

// smsCard is a top-up ticket's text messages, with the button that sends
// the household its reminder now (the front desk and managers).
export function smsCard(tk: TicketDetail, me: Me): HTMLElement {
  const box = h("section", { class: "card wide", id: "sms-card", "aria-live": "polite" });
  const draw = async (note = "", ok = false) => {
    const { messages, channel } = await api<{ messages: SMSMessage[]; channel: boolean }>(`/tickets/${tk.id}/sms`);
    const canSend = channel && ["admin", "manager", "assistant"].includes(me.role) && ["new", "dispatched", "on_site"].includes(tk.status);
    const msg = h("p", { class: ok ? "msg ok" : "msg error", id: "sms-msg", role: "status" }, note);
    clear(box, h("h3", {}, t("sms.title")),
      !channel ? h("p", { class: "muted" }, t("sms.noChannel")) : null,
      messages.length === 0 ? h("p", { class: "empty", id: "sms-empty" }, t("sms.none")) :
        h("ul", { id: "sms-list" }, ...messages.map((m) => h("li", { "data-status": m.status },
          `${when(m.created_at, tk.site_timezone)} · ${m.phone} · ${t("sms.s." + m.status)}`,
          m.receipt_at ? ` (${when(m.receipt_at, tk.site_timezone)})` : "",
          m.code ? h("small", { class: "muted" }, " " + m.code) : null, ` · ${person(m.by)}`))),
      canSend ? h("button", { type: "button", id: "sms-send", onclick: async () => {
        try {
          await api(`/tickets/${tk.id}/sms`, { method: "POST" });
          await draw(t("sms.sent"), true);
        } catch (e) {
          await draw(errText(e));
        }
      } }, t("sms.send")) : null,
      msg);
  };
  void busy(box, () => draw()).catch(() => clear(box));
  return box;
}

// areaNoteText says the desk's audit notes of areas and text messages in
// the UI's language; "" for any other note.
export function areaNoteText(action: string, note: string): string {
  let m: RegExpExecArray | null;
  const why = (s?: string) => (s ? t("audit.colon") + s : "");
  if (action === "area") {
    if ((m = /^area (.+?): owned by (\S+)$/.exec(note))) return t("audit.areaOwned", { area: m[1], who: person(m[2]) });
    if ((m = /^area (.+?): moved from (\S*) to (\S*?)(?:: ([\s\S]*))?$/.exec(note))) return t("audit.areaMoved", { area: m[1], from: person(m[2]), to: person(m[3]) }) + why(m[4]);
    if ((m = /^no longer in an area \(was (\S*)\)(?:: ([\s\S]*))?$/.exec(note))) return t("audit.areaNone", { who: person(m[1]) }) + why(m[2]);
  }
  if ((action === "sms_delivered" || action === "sms_undelivered") && (m = /^text message (\d+) .*\((\w+) report: ([\s\S]*)\)$/.exec(note))) {
    return t(action === "sms_delivered" ? "audit.smsDelivered" : "audit.smsUndelivered", { id: m[1], p: t("sms.p." + m[2]), code: m[3] });
  }
  if (action === "sms_failed" && (m = /^text message (\d+) not sent by (\w+): ([\s\S]*)$/.exec(note))) {
    return t("audit.smsFailed", { id: m[1], p: t("sms.p." + m[2]), why: m[3] });
  }
  return "";
}
