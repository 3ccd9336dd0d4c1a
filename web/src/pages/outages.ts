// 计划停电: planned outages of a feeder or of buildings. Engineers request one
// (start and end in the site's time, the reason); managers approve or reject
// it. Once approved, the page lists each household told (unit, channel) and
// prints the notice (#/outages/N/print): one sheet to post at each
// building's entrance, with the households' list beneath.
import { api, Gateway, Me } from "../api";
import { busy, clear, h } from "../dom";
import { DeskEvent, events } from "../events";
import { errorText, fromLocalInput, person, when } from "../format";
import { t } from "../i18n";
import { Page } from "../page";


export interface Notice {
  unit: string; building?: string; floor?: string; channel: string;
  text_zh: string; text_en: string; told_by: string; told_at: string;
}

export interface Outage {
  id: number; site: string; site_name: string; site_timezone: string;
  feeder?: string; buildings: string[]; start: string; end: string; reason: string;
  status: string; requested_by: string; requested_at: string; decided_by?: string; decided_at?: string; note?: string;
  households: number;
  affected: { unit: string; building?: string; floor?: string; channel: string }[];
  notices?: Notice[];
}

const scope = (o: Outage) => o.feeder ? `${t("out.feeder")} ${o.feeder}` : `${t("out.building")} ${o.buildings.join(", ")}`;
const period = (o: Outage) => `${when(o.start, o.site_timezone)} – ${when(o.end, o.site_timezone)}`;

function requestForm(me: Me, defaultSite: string): HTMLElement {
  const field = (id: string, attrs: Record<string, any> = {}) => h("input", { id, ...attrs }) as HTMLInputElement;
  const site = field("out-site", { value: me.site || defaultSite });
  const feeder = field("out-feeder", { placeholder: "b1" });
  const buildings = field("out-buildings", { placeholder: "3, 5" });
  const start = field("out-start", { type: "datetime-local", required: true });
  const end = field("out-end", { type: "datetime-local", required: true });
  const reason = field("out-reason", { required: true, maxlength: 500 });
  const msg = h("p", { class: "msg error", id: "out-msg", role: "alert" });
  const form = h("form", { class: "card form-grid", id: "out-form" },
    h("h3", {}, t("out.request")),
    me.site ? null : h("label", {}, t("out.site"), site),
    h("label", {}, t("out.feeder"), feeder),
    h("label", {}, t("out.buildings"), buildings),
    h("label", {}, t("out.start"), start),
    h("label", {}, t("out.end"), end),
    h("label", {}, t("out.reason"), reason),
    h("button", { type: "submit" }, t("out.submit")), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const list = buildings.value.split(/[,，、\s]+/).map((b) => b.trim()).filter(Boolean);
    try {
      const o = await api<Outage>("/outages", { method: "POST", body: JSON.stringify({
        site: me.site ? undefined : site.value.trim(), feeder: feeder.value.trim() || undefined, buildings: list.length ? list : undefined,
        start: fromLocalInput(start.value), end: fromLocalInput(end.value), reason: reason.value.trim() }) });
      window.location.hash = `#/outages/${o.id}`;
    } catch (e) {
      msg.textContent = errorText(e);
    }
  });
  return form;
}

// The list of outages, redrawn by itself when one changes (below the
// request form, which keeps what is being typed).
async function listTable(box: HTMLElement) {
  const { outages } = await api<{ outages: Outage[] }>("/outages");
  clear(box,
    outages.length === 0 ? h("p", { class: "empty" }, t("out.empty")) :
      h("table", { class: "grid", id: "out-list" },
        h("thead", {}, h("tr", {}, ...["out.no", "out.scope", "out.window", "out.reason", "out.status", "out.households"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, ...outages.map((o) => h("tr", {},
          h("td", {}, h("a", { href: `#/outages/${o.id}` }, `#${o.id}`)),
          h("td", {}, scope(o)),
          h("td", {}, period(o)),
          h("td", {}, o.reason),
          h("td", {}, h("span", { class: `badge out-${o.status}` }, t("out.status." + o.status))),
          h("td", { class: "num" }, o.households || "—"))))));
}

async function list(root: HTMLElement, me: Me) {
  // An account of every site requests for the site of the gateways it sees first.
  const site = me.site || (await api<{ gateways: Gateway[] | null }>("/gateways")).gateways?.[0]?.site || "";
  const mayRequest = ["admin", "manager", "engineer"].includes(me.role);
  const box = h("div", { id: "out-list-box" });
  await listTable(box);
  clear(root,
    h("div", { class: "page-head" }, h("h2", {}, t("out.title"))),
    box,
    mayRequest ? requestForm(me, site) : null);
  live(root, (e) => e.type.startsWith("outage."), () => listTable(box));
}

// live redraws part of the page when the desk says (the event stream) that
// an outage it shows changed: another manager approved it, a colleague
// requested one. Redraws run one at a time; the page's leave stops them.
let unsubscribe: (() => void)[] = [];
function live(root: HTMLElement, match: (e: DeskEvent) => boolean, redraw: () => Promise<void>) {
  let running = false;
  let again = false;
  const run = async (): Promise<void> => {
    if (running) { again = true; return; }
    running = true;
    try { await busy(root, redraw); } catch { /* the next event retries */ } finally { running = false; }
    if (again) { again = false; return run(); }
  };
  unsubscribe.push(events.on((e) => { if (match(e)) void run(); }));
}

async function detail(root: HTMLElement, me: Me, id: string) {
  const o = await api<Outage>(`/outages/${encodeURIComponent(id)}`);
  const z = o.site_timezone;
  const msg = h("p", { class: "msg error", id: "out-msg", role: "alert" });
  const decide = (action: string) => async () => {
    try {
      await api<Outage>(`/outages/${o.id}/${action}`, { method: "POST" });
      await detail(root, me, id);
    } catch (e) {
      msg.textContent = t("out.bad", { msg: errorText(e) });
    }
  };
  const manager = ["admin", "manager"].includes(me.role);
  const households = o.affected.length === 0 ? h("p", { class: "empty", id: "out-none" }, t("out.none"))
    : o.notices && o.notices.length > 0
    ? h("table", { class: "grid compact", id: "out-notices" },
      h("thead", {}, h("tr", {}, ...["out.building", "out.unit", "out.channel", "out.told"].map((k) => h("th", {}, t(k))))),
      h("tbody", {}, ...o.notices.map((n) => h("tr", {}, h("td", {}, n.building || ""), h("td", {}, n.unit),
        h("td", {}, t("ch." + n.channel)), h("td", {}, when(n.told_at, z))))))
    : h("table", { class: "grid compact", id: "out-affected" },
      h("thead", {}, h("tr", {}, ...["out.building", "out.unit", "out.channel"].map((k) => h("th", {}, t(k))))),
      h("tbody", {}, ...o.affected.map((a) => h("tr", {}, h("td", {}, a.building || ""), h("td", {}, a.unit), h("td", {}, t("ch." + a.channel))))));
  clear(root,
    h("div", { class: "page-head" }, h("h2", {}, `${t("out.title")} #${o.id}`),
      h("a", { href: "#/outages", class: "button ghost" }, t("out.back"))),
    h("section", { class: "card", id: "out-detail" },
      h("dl", { class: "facts" },
        h("dt", {}, t("out.status")), h("dd", { id: "out-status" }, t("out.status." + o.status)),
        h("dt", {}, t("out.scope")), h("dd", {}, `${o.site_name} · ${scope(o)}`),
        h("dt", {}, t("out.window")), h("dd", {}, period(o)),
        h("dt", {}, t("out.reason")), h("dd", {}, o.reason),
        h("dt", {}, t("out.by")), h("dd", {}, `${person(o.requested_by)} · ${when(o.requested_at, z)}`),
        o.decided_by ? h("dt", {}, t("out.decided")) : null,
        o.decided_by ? h("dd", {}, `${person(o.decided_by)} · ${when(o.decided_at, z)}${o.note ? " · " + o.note : ""}`) : null),
      h("div", { class: "actions" },
        manager && o.status === "requested" ? h("button", { type: "button", id: "out-approve", onclick: decide("approve") }, t("out.approve")) : null,
        manager && o.status === "requested" ? h("button", { type: "button", class: "ghost", id: "out-reject", onclick: decide("reject") }, t("out.reject")) : null,
        manager && o.status === "approved" ? h("button", { type: "button", class: "ghost", id: "out-cancel", onclick: decide("cancel") }, t("out.cancel")) : null,
        o.status === "approved" ? h("a", { href: `#/outages/${o.id}/print`, class: "button", id: "out-print-link" }, t("out.print")) : null),
      msg),
    h("h3", {}, o.status === "requested" ? t("out.preview", { n: o.affected.length }) : t("out.told.n", { n: o.affected.length })),
    households);
}

// detailLive keeps an outage's page current: its status and households
// told change when a manager elsewhere decides.
function detailLive(root: HTMLElement, me: Me, id: string) {
  live(root, (e) => e.type.startsWith("outage.") && String((e.data as { id?: number })?.id) === id, () => detail(root, me, id));
}

// printNotice is the notice to post at each building's entrance (one sheet
// per building, in Chinese with the English beneath), with its households.
async function printNotice(root: HTMLElement, id: string) {
  const o = await api<Outage>(`/outages/${encodeURIComponent(id)}`);
  const notices = o.notices || [];
  const byBuilding = new Map<string, Notice[]>();
  for (const n of notices) byBuilding.set(n.building || "", [...(byBuilding.get(n.building || "") || []), n]);
  document.title = `${t("out.noticeTitle")} #${o.id}`;
  const sheets = [...byBuilding.entries()].map(([b, ns]) => {
    // The first household's text, addressed to the building as a whole.
    const zh = ns[0].text_zh.replace(/尊敬的 .*? 住户/, `尊敬的 ${b} 栋住户`);
    const en = ns[0].text_en.replace(/dear residents of .*?, because/, `dear residents of building ${b}, because`);
    return h("article", { class: "print-sheet notice-sheet", "data-building": b },
      h("div", { class: "sheet-site" }, o.site_name),
      h("h1", {}, `停电通知 · ${t("out.noticeTitle")}`),
      h("p", { class: "notice-zh" }, zh),
      h("p", { class: "notice-en", lang: "en" }, en),
      h("p", { class: "notice-units" }, `${t("out.households")}: ${ns.map((n) => n.unit).join("、")}`),
      h("footer", { class: "sheet-foot" }, `#${o.id} · ${t("out.printed", { at: when(new Date().toISOString(), o.site_timezone) })}`));
  });
  clear(root,
    h("div", { class: "no-print print-bar" },
      h("button", { type: "button", id: "print-now", onclick: () => window.print() }, t("print.print")),
      h("a", { href: `#/outages/${o.id}`, class: "button ghost" }, t("out.back"))),
    h("div", { id: "notice-sheets" }, ...sheets));
}

export const outagesPage: Page = {
  route: "outages",
  nav: "nav.outages",
  roles: ["admin", "manager", "engineer", "control_room", "assistant"],
  async render(root, params) {
    outagesPage.leave?.(); // from the list to an outage and back: one page object
    const me = await api<Me>("/me");
    const id = params.get("id");
    if (id && params.get("print")) return printNotice(root, id);
    if (id) {
      await detail(root, me, id);
      detailLive(root, me, id);
      return;
    }
    return list(root, me);
  },
  leave() {
    unsubscribe.forEach((u) => u());
    unsubscribe = [];
  },
};
