// 设备台账与保养: the equipment register (every device the gateways report
// and the plant without a gateway), its import and export as CSV or XLSX,
// one entry's history; the maintenance plans with their next due time
// explained; the maintenance orders with their checklists (filled by hand
// or from telemetry); and the maintenance report. Tabs: #/equipment?tab=
// register | plans | orders | report.
import { api, download, Me, token } from "../api";
import { busy, clear, h } from "../dom";
import { person, titleOf, when } from "../format";
import { currentLang, t } from "../i18n";
import { Page } from "../page";


interface Item {
  site: string; id: string; name: string; class?: string; device?: string; building?: string; floor?: string; location?: string;
  make?: string; model?: string; serial: string; install_date?: string; warranty_end?: string; supplier?: string; contractor?: string;
}
interface Entry extends Item { registered: boolean; warranty_ending?: boolean; reported?: { state: string; last_seen?: string } }
interface CheckItem { id: string; text: string; text_en?: string; kind: string; unit?: string; min?: number; max?: number; required?: boolean; evidence?: unknown }
interface Result { item: string; pass?: boolean; value?: number; photo?: string; note?: string; auto?: boolean; summary?: string }
interface Order {
  id: number; site: string; plan: string; plan_name?: string; equipment: string; ticket: number; due: string; deadline: string;
  trigger: string; explain?: string; contractor?: string; checklist: CheckItem[]; results: Result[]; status: string; overdue: boolean;
  window: { devices: string[]; from?: string; to?: string }; minutes?: number; failed: number;
}
interface Due { explain: string; explain_zh: string; now: boolean }
interface Plan { id: string; name: string; template?: string; equipment?: string; class?: string; contractor?: string; targets: { equipment: string; name: string; next: Due; usage_error?: string }[] }
interface Completion { key: string; due: number; done: number; on_time: number; rate: number; minutes: number }
interface Report { due_this_week: Order[]; plans_due_this_week: { name: string; equipment: string; at: string }[]; overdue: Order[]; by_month: Completion[]; by_contractor: Completion[]; minutes: number; failed_items: { category: string; count: number }[] }

const enc = encodeURIComponent;
const itemText = (it: CheckItem) => (currentLang() === "en" && it.text_en) || it.text;
const table = (id: string, head: string[], rows: (string | HTMLElement)[][]) =>
  h("div", { class: "scroll" }, h("table", { class: "grid", id },
    h("thead", {}, h("tr", {}, ...head.map((x) => h("th", {}, t(x))))),
    h("tbody", {}, ...rows.map((r) => h("tr", {}, ...r.map((c) => h("td", {}, c)))))));

async function siteOf(me: Me, entries: Entry[]): Promise<string> {
  return me.site || entries[0]?.site || "";
}

function tabs(active: string): HTMLElement {
  return h("div", { class: "tabs", role: "tablist" }, ...["register", "plans", "orders", "report"].map((tab) =>
    h("a", { href: `#/equipment?tab=${tab}`, id: `eq-tab-${tab}`, role: "tab", "aria-selected": String(tab === active), class: tab === active ? "active" : "" }, t("eq.tab." + tab))));
}

async function upload(site: string, file: File, dryRun: boolean): Promise<any> {
  const resp = await fetch(`/api/v1/equipment/${enc(site)}/import?dry_run=${dryRun}&name=${enc(file.name)}`, {
    method: "POST", headers: { Authorization: "Bearer " + token(), "Content-Type": file.type || "application/octet-stream" }, body: file });
  const body = await resp.json().catch(() => null);
  if (resp.status === 200 || (resp.status === 422 && body && Array.isArray(body.problems))) return body;
  throw new Error((body && body.error) || resp.statusText);
}

async function register(root: HTMLElement, site: string, entries: Entry[], me: Me) {
  const editor = ["admin", "manager", "engineer"].includes(me.role);
  const history = h("div", { id: "eq-history" });
  const rows = entries.map((e) => [
    h("button", { type: "button", class: "ghost eq-open", onclick: () => showHistory(history, e) }, e.id),
    e.name, e.class || "", e.location || [e.building, e.floor].filter(Boolean).join(" "), [e.make, e.model].filter(Boolean).join(" "), e.serial || "",
    h("span", { class: "nowrap" }, e.install_date || ""),
    e.warranty_ending ? h("span", { class: "badge red nowrap", title: t("eq.warrantyEnding") }, e.warranty_end || "") : h("span", { class: "nowrap" }, e.warranty_end || ""),
    e.contractor || "", e.registered ? (e.reported?.state || "") : h("span", { class: "muted" }, `${e.reported?.state || ""} · ${t("eq.unregistered")}`)]);
  const parts: (HTMLElement | null)[] = [table("eq-register", ["eq.id", "eq.name", "eq.class", "eq.location", "eq.makeModel", "eq.serial", "eq.install", "eq.warranty", "eq.contractor", "eq.state"], rows), history];
  if (editor && site) {
    const file = h("input", { type: "file", id: "eq-file", accept: ".csv,.xlsx" }) as HTMLInputElement;
    const result = h("div", { id: "eq-import-result" });
    const submit = h("button", { type: "button", id: "eq-import", disabled: true }, t("eq.import")) as HTMLButtonElement;
    const show = (rep: any) => {
      if (rep.problems.length > 0) {
        clear(result, h("p", { class: "msg error" }, t("eq.problems", { file: rep.file, n: rep.problems.length })),
          h("ol", { id: "eq-problems" }, ...rep.problems.map((p: any) => h("li", {}, `${p.file}${p.row ? ":" + p.row : ""}: ${p.column ? p.column + ": " : ""}${p.message}`))));
      } else clear(result, h("p", { class: rep.imported ? "msg ok" : "msg" }, t(rep.imported ? "eq.imported" : "eq.clean", { file: rep.file, n: rep.items })));
      submit.disabled = rep.problems.length > 0 || rep.imported;
    };
    file.addEventListener("change", async () => {
      const f = file.files?.[0];
      if (!f) return;
      try { show(await busy(result, () => upload(site, f, true))); } catch (e: any) { clear(result, h("p", { class: "msg error" }, t("eq.failed", { msg: e.message }))); }
    });
    submit.addEventListener("click", async () => {
      const f = file.files?.[0];
      if (!f) return;
      try { show(await busy(result, () => upload(site, f, false))); } catch (e: any) { clear(result, h("p", { class: "msg error" }, t("eq.failed", { msg: e.message }))); }
    });
    parts.push(h("div", { class: "card", id: "eq-import-card" },
      h("label", {}, t("eq.file"), file), h("div", { class: "actions" }, submit,
        h("button", { type: "button", class: "ghost", id: "eq-export-csv", onclick: () => download(`/equipment/${enc(site)}?format=csv`, `equipment-${site}.csv`) }, t("eq.exportCSV")),
        h("button", { type: "button", class: "ghost", id: "eq-export-xlsx", onclick: () => download(`/equipment/${enc(site)}?format=xlsx`, `equipment-${site}.xlsx`) }, t("eq.exportXLSX"))),
      result));
  }
  clear(root, ...parts);
}

// RoundRecord is a round's visit of a checkpoint that checks the entry.
interface RoundRecord {
  round_id?: number; route_name?: string; route_name_en?: string; checkpoint: string; name: string; name_en?: string;
  at: string; by: string; failed: number; results: { item: string; outcome: string; ticket_id?: number }[];
}

async function showHistory(box: HTMLElement, e: Entry) {
  if (!e.registered) {
    clear(box, h("p", { class: "msg" }, `${e.id}: ${t("eq.unregistered")}`));
    return;
  }
  const d = await busy(box, () => api<{ tickets: any[]; maintenance: Order[]; alarms?: any[]; rounds?: RoundRecord[] }>(`/equipment/${enc(e.site)}/${enc(e.id)}`));
  const en = currentLang() === "en";
  const list = (items: HTMLElement[]) => (items.length ? h("ul", {}, ...items) : h("p", { class: "muted" }, t("eq.none")));
  clear(box, h("div", { class: "card", id: "eq-history-card" },
    h("h3", {}, t("eq.history", { name: `${e.id} ${e.name}` })),
    h("p", { class: "muted" }, [e.make, e.model, e.serial, e.supplier, e.contractor].filter(Boolean).join(" · ")),
    h("div", { class: "wide" }, h("h4", {}, t("eq.tickets")), list(d.tickets.map((tk) => h("li", {}, h("a", { href: `#/tickets/${tk.id}` }, `#${tk.id}`), ` ${when(tk.created_at)} ${titleOf(tk)} (${t("status." + tk.status)})`)))),
    h("div", { class: "wide" }, h("h4", {}, t("eq.maintenance")), list(d.maintenance.map((o) => h("li", {}, `${when(o.due)} ${o.plan_name || o.plan} · ${t(o.status === "done" ? "eq.order.done" : o.overdue ? "eq.order.overdue" : "eq.order.open")}`)))),
    h("div", { class: "wide", id: "eq-history-rounds" }, h("h4", {}, t("eq.rounds")), list((d.rounds || []).map((r) => h("li", { class: r.failed ? "red" : "" },
      `${when(r.at)} ${(en && r.route_name_en) || r.route_name || ""} · ${r.checkpoint} ${(en && r.name_en) || r.name} · ${person(r.by)} · `,
      r.failed ? t("eq.rounds.failed", { n: r.failed }) : r.results.length ? t("eq.rounds.ok") : t("eq.rounds.visited"),
      ...r.results.filter((x) => x.ticket_id).map((x) => h("a", { href: `#/tickets/${x.ticket_id}`, class: "ticket-link" }, ` #${x.ticket_id}`)))))),
    h("div", { class: "wide" }, h("h4", {}, t("eq.alarms")), list((d.alarms || []).map((a: any) => h("li", {}, `${when(a.time || a.at)} ${a.rule || ""} ${a.state || ""}`))))));
}

async function plans(root: HTMLElement, site: string, me: Me) {
  const { plans } = await api<{ plans: Plan[] }>(`/maintenance/${enc(site)}/plans`);
  const rows = plans.flatMap((p) => (p.targets.length ? p.targets : [{ equipment: p.equipment || p.class || "", name: "", next: { explain: "", explain_zh: "", now: false } }]).map((tg) => [
    p.name, `${tg.equipment} ${tg.name}`.trim(),
    h("span", { class: tg.next.now ? "red" : "" }, currentLang() === "en" ? tg.next.explain : tg.next.explain_zh),
    p.contractor || ""]));
  const parts: HTMLElement[] = [table("eq-plans", ["eq.name", "eq.plan.target", "eq.plan.next", "eq.contractor"], rows)];
  if (["admin", "manager", "engineer"].includes(me.role)) {
    const { templates } = await api<{ templates: { template: string; name: string; class: string }[] }>("/maintenance/templates");
    const tpl = h("select", { id: "eq-plan-template" }, ...templates.map((x) => h("option", { value: x.template }, x.name))) as HTMLSelectElement;
    const id = h("input", { id: "eq-plan-id", required: true }) as HTMLInputElement;
    const target = h("input", { id: "eq-plan-for", required: true, placeholder: "gen-1 / elevator" }) as HTMLInputElement;
    const msg = h("p", { class: "msg", id: "eq-plan-msg" });
    const form = h("form", { class: "card", id: "eq-plan-form" }, h("h3", {}, t("eq.plan.new")),
      h("label", {}, t("eq.plan.template"), tpl), h("label", {}, t("eq.plan.id"), id), h("label", {}, t("eq.plan.for"), target),
      h("div", { class: "actions" }, h("button", { type: "submit" }, t("eq.plan.save"))), msg);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const chosen = templates.find((x) => x.template === tpl.value);
      const v = target.value.trim();
      const body: Record<string, string> = { template: tpl.value };
      if (chosen && v === chosen.class) body.class = v; else body.equipment = v;
      try {
        await api(`/maintenance/${enc(site)}/plans/${enc(id.value.trim())}`, { method: "PUT", body: JSON.stringify(body) });
        await plansTab(root, site, me);
      } catch (e: any) {
        msg.className = "msg error";
        msg.textContent = t("eq.failed", { msg: e.message });
      }
    });
    parts.push(form);
  }
  clear(root, ...parts);
}
const plansTab = plans;

async function orders(root: HTMLElement, site: string, me: Me, params: URLSearchParams) {
  const { orders } = await api<{ orders: Order[] }>(`/maintenance/${enc(site)}/orders`);
  const panel = h("div", { id: "eq-order" });
  const rows = orders.map((o) => [
    h("button", { type: "button", class: "ghost eq-order-open", onclick: () => showOrder(panel, o, me) }, `${o.plan_name || o.plan}`),
    o.equipment, when(o.due), h("span", { class: o.overdue ? "red" : "" }, when(o.deadline)), t("eq.trigger." + o.trigger),
    t(o.status === "done" ? "eq.order.done" : o.overdue ? "eq.order.overdue" : "eq.order.open"),
    h("a", { href: `#/tickets/${o.ticket}` }, `#${o.ticket}`)]);
  clear(root, table("eq-orders", ["eq.name", "eq.plan.target", "eq.order.due", "eq.order.deadline", "eq.order.trigger", "eq.order.status", "eq.tickets"], rows), panel);
  const want = Number(params.get("order"));
  const o = orders.find((x) => x.id === want);
  if (o) showOrder(panel, o, me);
}

function showOrder(box: HTMLElement, o: Order, me: Me) {
  const results = new Map(o.results.map((r) => [r.item, r]));
  const open = o.status === "open" && ["admin", "manager", "engineer"].includes(me.role);
  const inputs = new Map<string, () => Result | null>();
  const lines = o.checklist.map((it) => {
    const r = results.get(it.id);
    const info: (HTMLElement | string)[] = [];
    if (it.kind === "reading" && (it.min !== undefined || it.max !== undefined)) info.push(h("small", { class: "muted" }, t("eq.limits", { min: it.min ?? "", max: it.max ?? "", unit: it.unit || "" })));
    if (r?.summary) info.push(h("small", { class: r.pass === false ? "red" : "muted", id: `eq-readings-${it.id}` }, t("eq.readings", { s: r.summary })));
    let field: HTMLElement;
    if (it.kind === "check") {
      const sel = h("select", { id: `eq-item-${it.id}`, disabled: !open || undefined },
        h("option", { value: "" }, "—"), h("option", { value: "pass" }, t("eq.pass")), h("option", { value: "fail" }, t("eq.fail"))) as HTMLSelectElement;
      if (r?.pass !== undefined) sel.value = r.pass ? "pass" : "fail";
      inputs.set(it.id, () => (sel.value ? { item: it.id, pass: sel.value === "pass" } : null));
      field = sel;
    } else if (it.kind === "reading") {
      const inp = h("input", { id: `eq-item-${it.id}`, type: "number", step: "any", inputmode: "decimal", value: r?.value ?? "", disabled: !open || undefined }) as HTMLInputElement;
      inputs.set(it.id, () => (inp.value === "" ? null : { item: it.id, value: Number(inp.value) }));
      field = inp;
    } else {
      const inp = h("input", { id: `eq-item-${it.id}`, value: (it.kind === "photo" ? r?.photo : r?.note) || "", placeholder: it.kind === "photo" ? t("eq.photo") : "", disabled: !open || undefined }) as HTMLInputElement;
      inputs.set(it.id, () => (inp.value.trim() ? (it.kind === "photo" ? { item: it.id, photo: inp.value.trim() } : { item: it.id, note: inp.value.trim() }) : null));
      field = inp;
    }
    return h("label", { class: "eq-item" }, `${it.required ? "* " : ""}${itemText(it)}`, field, ...info);
  });
  const minutes = h("input", { id: "eq-minutes", type: "number", min: "0", value: o.minutes || "", disabled: !open || undefined }) as HTMLInputElement;
  const note = h("input", { id: "eq-note", disabled: !open || undefined }) as HTMLInputElement;
  const msg = h("p", { class: "msg", id: "eq-order-msg" });
  const fail = (e: any) => { msg.className = "msg error"; msg.textContent = t("eq.failed", { msg: e.message }); };
  const actions = open ? h("div", { class: "actions" },
    h("button", { type: "button", class: "ghost", id: "eq-evidence", onclick: async () => {
      try { showOrder(box, await api<Order>(`/maintenance/${enc(o.site)}/orders/${o.id}/evidence`, { method: "POST" }), me); } catch (e) { fail(e); }
    } }, t("eq.order.evidence")),
    h("button", { type: "button", id: "eq-complete", onclick: async () => {
      const given = [...inputs.values()].map((f) => f()).filter((r): r is Result => r !== null);
      try {
        const res = await api<{ order: Order }>(`/maintenance/${enc(o.site)}/orders/${o.id}/complete`, { method: "POST", body: JSON.stringify({ results: given, minutes: Number(minutes.value || 0), note: note.value }) });
        showOrder(box, res.order, me);
        const m = box.querySelector("#eq-order-msg");
        if (m) { m.className = "msg ok"; m.textContent = t("eq.order.completed"); }
      } catch (e) { fail(e); }
    } }, t("eq.order.complete"))) : null;
  clear(box, h("div", { class: "card", id: "eq-order-card" },
    h("h3", {}, `${o.plan_name || o.plan} · ${o.equipment}`),
    // The desk's explanation is in English; Chinese says the trigger and the due time.
    h("p", { class: "muted" }, `${currentLang() === "en" ? o.explain || "" : `${t("eq.trigger." + o.trigger)} · ${t("eq.order.due")} ${when(o.due)}`} · ${t("eq.order.deadline")} ${when(o.deadline)}${o.contractor ? " · " + o.contractor : ""}`),
    o.window.devices.length ? h("p", { class: "muted", id: "eq-window" }, t("eq.window", { devices: o.window.devices.join(", "), from: when(o.window.from), to: when(o.window.to) })) : null,
    ...lines, h("label", {}, t("eq.order.minutes"), minutes), h("label", {}, t("eq.order.note"), note), actions, msg));
}

async function report(root: HTMLElement, site: string) {
  const r = await api<Report>(`/maintenance/${enc(site)}/report`);
  const comp = (c: Completion) => [c.key, String(c.due), String(c.done), String(c.on_time), `${c.rate}%`, String(c.minutes)];
  const orderLine = (o: Order) => h("li", {}, `${o.plan_name || o.plan} · ${o.equipment} · ${t("eq.order.deadline")} ${when(o.deadline)} `, h("a", { href: `#/tickets/${o.ticket}` }, `#${o.ticket}`));
  clear(root,
    h("div", { class: "actions" }, h("button", { type: "button", class: "ghost", id: "eq-report-csv", onclick: () => download(`/maintenance/${enc(site)}/report?format=csv`, `maintenance-${site}.csv`) }, t("eq.rep.csv"))),
    h("h3", {}, t("eq.rep.dueWeek")),
    h("ul", { id: "eq-due-week" }, ...r.due_this_week.map(orderLine), ...r.plans_due_this_week.map((p) => h("li", {}, `${p.name} · ${p.equipment} · ${when(p.at)}`))),
    h("h3", {}, t("eq.rep.overdue")), h("ul", { id: "eq-overdue" }, ...r.overdue.map(orderLine)),
    h("h3", {}, t("eq.rep.byMonth")), table("eq-by-month", ["eq.rep.key", "eq.rep.dueN", "eq.rep.doneN", "eq.rep.onTime", "eq.rep.rate", "eq.order.minutes"], r.by_month.map(comp)),
    h("h3", {}, t("eq.rep.byContractor")), table("eq-by-contractor", ["eq.contractor", "eq.rep.dueN", "eq.rep.doneN", "eq.rep.onTime", "eq.rep.rate", "eq.order.minutes"], r.by_contractor.map(comp)),
    h("h3", {}, t("eq.rep.failed")), table("eq-failed", ["eq.class", "eq.rep.dueN"], r.failed_items.map((f) => [f.category, String(f.count)])),
    h("p", { class: "muted" }, t("eq.rep.minutes", { n: r.minutes })));
}

export const equipmentPage: Page = {
  route: "equipment",
  nav: "nav.equipment",
  roles: ["admin", "manager", "engineer", "control_room"],
  refreshMs: 10000, // orders come due and telemetry moves; a checklist being filled is not redrawn
  async render(root: HTMLElement, params: URLSearchParams) {
    if (root.querySelector("form input:focus, #eq-order-card")) return; // a form being filled in is not redrawn
    const tab = params.get("tab") || "register";
    const me = await api<Me>("/me");
    const { equipment } = await api<{ equipment: Entry[] }>("/equipment");
    const site = params.get("site") || (await siteOf(me, equipment));
    const body = h("div", { id: "eq-body" });
    clear(root, h("div", { class: "page-head" }, h("h2", {}, t("nav.equipment")), h("span", { class: "muted" }, site)), tabs(tab), body);
    if (tab === "plans") return plans(body, site, me);
    if (tab === "orders") return orders(body, site, me, params);
    if (tab === "report" && ["admin", "manager", "engineer"].includes(me.role)) return report(body, site);
    return register(body, site, equipment.filter((e) => !site || e.site === site), me);
  },
};
