// 管理: the monthly statistics (tickets by kind and cause, deadlines met,
// times to dispatch / on site / resolve, follow-up rate, satisfaction) with
// bar charts and the CSV download.
import { api, download, Gateway, Me, Report, Ticket } from "../api";
import { bars } from "../charts";
import { clear, h } from "../dom";
import { duration, t } from "../i18n";
import { defaultZone } from "../format";
import { monthLabel } from "../i18n_more";
import { SiteView } from "../sites";
import { Page } from "../page";
import { reviews, targetsTable } from "./reviews";

function thisMonth(): string {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}`;
}

// defaultSite is the account's own site, else the first site the desk knows.
async function defaultSite(): Promise<string> {
  const me = await api<Me>("/me");
  if (me.site) return me.site;
  const { gateways } = await api<{ gateways: Gateway[] | null }>("/gateways");
  if (gateways && gateways.length > 0) return gateways[0].site;
  const { tickets } = await api<{ tickets: Ticket[] }>("/tickets?limit=1");
  return tickets[0]?.site || "";
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

// rate is a share with what it counts, or "—" when there is nothing to
// count: never a green "100% (0/0)".
const rate = (share: number, n: number, of: number, counts = true) => (of === 0 ? "—" : counts ? `${pct(share)} (${n}/${of})` : pct(share));


// months offers the last 24 months, newest first, named in the UI's language.
function months(current: string): HTMLSelectElement {
  const now = new Date();
  const list: string[] = [];
  for (let i = 0; i < 24; i++) {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - i, 1));
    list.push(`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`);
  }
  if (!list.includes(current)) list.unshift(current);
  return h("select", { id: "rep-month", name: "month" }, ...list.map((m) => h("option", { value: m, selected: m === current }, monthLabel(m)))) as HTMLSelectElement;
}

function summary(r: Report): HTMLElement {
  const tile = (label: string, value: string, id: string) => h("div", { class: "tile", id }, h("small", {}, t(label)), h("strong", {}, value));
  return h("div", { class: "tiles" },
    tile("rep.tickets", String(r.tickets), "rep-tickets"),
    tile("rep.complaints", String(r.complaints), "rep-complaints"),
    tile("rep.followUpRate", rate(r.follow_up_rate, r.followed_up, r.resolved), "rep-follow-up"),
    tile("rep.complaintFollowUp", rate(r.complaint_follow_up_rate, 0, r.complaints, false), "rep-complaint-follow-up"),
    tile("rep.satisfaction", r.satisfaction_count ? `${r.satisfaction_mean.toFixed(2)} / 5 (${r.satisfaction_count})` : "—", "rep-satisfaction"),
  );
}

function mapBars(id: string, m: Record<string, number>, label: (k: string) => string) {
  const entries = Object.entries(m || {}).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return h("p", { class: "empty" }, t("rep.none"));
  return bars(id, entries.map(([k, v]) => ({ label: label(k), value: v })));
}

function draw(box: HTMLElement, r: Report) {
  const deadlines = r.deadlines || [];
  const times: [string, Report["to_dispatch"]][] = [["rep.toDispatch", r.to_dispatch], ["rep.toOnSite", r.to_on_site], ["rep.toResolve", r.to_resolve]];
  const kindLabel = (k: string) => k.split("/").map((p, i) => (i === 0 ? t("kind." + p) : p)).join(" / ");
  clear(box,
    summary(r),
    h("h3", {}, t("tgt.title")), targetsTable(r),
    h("div", { class: "charts" },
      h("div", { class: "chart-card" }, h("h3", {}, t("rep.byKind")), mapBars("chart-kind", r.by_kind, (k) => t("kind." + k))),
      h("div", { class: "chart-card" }, h("h3", {}, t("rep.deadlinesMet")),
        deadlines.length === 0 ? h("p", { class: "empty" }, t("rep.none")) :
          bars("chart-deadlines", deadlines.map((d) => {
            const of = d.met + d.missed;
            return {
              label: t("step." + d.step), value: of ? d.share : 0, text: rate(d.share, d.met, of),
              colour: of === 0 ? "#8c959f" : d.share >= 0.95 ? "#1a7f37" : d.share >= 0.8 ? "#9a6700" : "#cf222e",
            };
          }), 1)),
      h("div", { class: "chart-card" }, h("h3", {}, t("rep.byCategory")), mapBars("chart-category", r.by_category, kindLabel)),
      h("div", { class: "chart-card" }, h("h3", {}, t("rep.byCause")), mapBars("chart-cause", r.by_cause, kindLabel)),
    ),
    h("h3", {}, t("rep.times")),
    h("table", { class: "grid compact", id: "rep-times" },
      h("thead", {}, h("tr", {}, ...["rep.step", "rep.count", "p50", "p95"].map((k) => h("th", {}, k.startsWith("p") ? k : t(k))))),
      h("tbody", {}, ...times.map(([label, d]) => h("tr", {}, h("td", {}, t(label)), h("td", { class: "num" }, d.count),
        h("td", { class: "num" }, d.count ? duration(d.p50_seconds * 1000) : "—"), h("td", { class: "num" }, d.count ? duration(d.p95_seconds * 1000) : "—"))))),
  );
}

export const reportsPage: Page = {
  route: "reports",
  nav: "nav.reports",
  roles: ["admin", "manager"],
  async render(root, params) {
    const month = params.get("month") || thisMonth();
    const site = params.get("site") || await defaultSite();
    const { sites } = await api<{ sites: SiteView[] }>("/sites").catch(() => ({ sites: [] as SiteView[] }));
    const known = sites.some((s) => s.id === site) || !site ? sites : [...sites, { id: site, name: site, timezone: "" }];
    const monthInput = months(month);
    const siteInput = h("select", { id: "rep-site", name: "site" },
      known.length === 0 ? h("option", { value: "" }, t("rep.siteAll")) : null,
      ...known.map((s) => h("option", { value: s.id, selected: s.id === site }, s.name || s.id))) as HTMLSelectElement;
    const msg = h("p", { class: "msg error", role: "alert" });
    const box = h("div", { id: "report", "aria-live": "polite" });
    const query = `site=${encodeURIComponent(site)}&month=${encodeURIComponent(month)}`;
    const go = () => { window.location.hash = `#/reports?site=${encodeURIComponent(siteInput.value)}&month=${encodeURIComponent(monthInput.value)}`; };
    siteInput.addEventListener("change", go);
    monthInput.addEventListener("change", go);
    const siteName = known.find((s) => s.id === site)?.name || site;
    clear(root,
      h("div", { class: "page-head" }, h("h2", {}, t("rep.title")), h("span", { class: "muted", id: "rep-period" }, `${siteName} · ${monthLabel(month)}`)),
      h("form", { class: "filters", id: "rep-form", onsubmit: (ev: Event) => {
        ev.preventDefault();
        go();
      } },
        h("label", {}, t("rep.site"), siteInput), h("label", {}, t("rep.month"), monthInput),
        h("button", { type: "submit" }, t("rep.show")),
        h("button", { type: "button", class: "ghost", id: "rep-csv", onclick: () =>
          download(`/reports/monthly?${query}&format=csv`, `estate-${site}-${month}.csv`).catch((e) => { msg.textContent = t("err.load", { msg: e.message }); }) }, t("rep.csv"))),
      msg, box);
    if (!site) {
      msg.textContent = t("rep.noSite");
      return;
    }
    draw(box, await api<Report>(`/reports/monthly?${query}`));
    box.append(await reviews(site, defaultZone));
  },
};
