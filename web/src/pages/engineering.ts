// 工程部: gateways and devices with their health; a device's live values,
// history chart over 1 h / 24 h / 7 d / 30 d, and open tickets.
import uPlot from "uplot";
import { api, Device, Gateway, openStatuses, Ticket } from "../api";
import { clear, h, location, reading } from "../dom";
import { currentLang, duration, t } from "../i18n";
import { pointLabel, PointMeta, pointValue, titleOf, unitText, when } from "../format";
import { Page } from "../page";
import { siteName, siteZone } from "../sites";

function stateBadge(d: Device): HTMLElement {
  const state = d.stale ? "stale" : d.state;
  return h("span", { class: `state ${state}` }, t("state." + state));
}

// familyLabel is a device family as people say it (电表), or its id.
function familyLabel(f: string): string {
  const s = t("family." + f);
  return s === "family." + f ? f : s;
}

interface Latest {
  at: string; site: string; family: string; model?: string; building?: string; floor?: string; unit?: string;
  values: Record<string, number>; points?: Record<string, PointMeta>;
}

async function deviceDetail(root: HTMLElement, id: string, params: URLSearchParams) {
  const rng = params.get("range") || "1h";
  const latest = await api<Latest>(`/devices/${encodeURIComponent(id)}/latest`);
  const meta = latest.points || {};
  const zone = siteZone(latest.site);
  const points = Object.keys(latest.values).filter((p) => p !== "quality").sort();
  const point = params.get("point") || points[0] || "";
  const link = (p: string, r: string) => `#/engineering?device=${encodeURIComponent(id)}&point=${p}&range=${r}`;
  const chartBox = h("div", { class: "chart", id: "chart" });
  const [{ tickets }, { alarms }] = await Promise.all([
    api<{ tickets: Ticket[] }>(`/tickets?device=${encodeURIComponent(id)}&limit=50`),
    api<{ alarms: { t: string; rule: string; severity: string; state: string; value: number; message_zh?: string; message_en?: string }[] }>(`/devices/${encodeURIComponent(id)}/alarms`),
  ]);
  clear(root,
    h("div", { class: "page-head" }, h("h2", {}, id), h("a", { href: "#/engineering", "aria-label": t("eng.back") }, "←")),
    h("p", { class: "muted", id: "device-where" }, [siteName(latest.site), location(latest), familyLabel(latest.family), latest.model]
      .filter(Boolean).join(" · ")),
    h("h3", {}, t("eng.latest"), latest.at ? h("small", { class: "muted" }, ` · ${when(latest.at, zone, true)}`) : ""),
    h("table", { class: "grid compact", id: "latest" }, h("tbody", {}, ...points.map((p) =>
      h("tr", { "data-point": p },
        h("td", {}, h("a", { href: link(p, rng) }, pointLabel(meta[p], p)), pointLabel(meta[p], p) !== p ? h("small", { class: "muted" }, ` ${p}`) : ""),
        h("td", { class: "num" }, pointValue(meta[p], latest.values[p])))))),
    h("h3", {}, `${t("eng.history")} · ${pointLabel(meta[point], point)}${meta[point]?.unit ? ` (${unitText(meta[point]?.unit)})` : ""}`),
    h("div", { class: "tabs" }, ...["1h", "24h", "7d", "30d"].map((r) =>
      h("a", { href: link(point, r), class: r === rng ? "active" : "" }, t("eng.range." + r)))),
    chartBox,
    h("h3", {}, t("eng.openTickets")),
    h("ul", { id: "device-tickets" }, ...tickets.filter((tk) => openStatuses.has(tk.status)).map((tk) =>
      h("li", {}, h("a", { href: `#/tickets/${tk.id}` }, `#${tk.id} ${t("kind." + tk.kind)} · ${titleOf(tk)}`)))),
    h("h3", {}, t("eng.alarmHistory")),
    alarms.length === 0 ? h("p", { class: "empty" }, t("eng.noAlarms")) :
      h("table", { class: "grid compact", id: "alarm-history" }, h("tbody", {}, ...alarms.map((a) =>
        // The rule's message in the UI's language, the rule's id beside it
        // (transitions written before the gateway kept messages have none).
        h("tr", {}, h("td", {}, when(a.t, zone, true)),
          h("td", { class: "what" }, (currentLang() === "en" ? a.message_en : a.message_zh) || a.rule,
            (a.message_zh || a.message_en) ? h("small", { class: "muted" }, ` ${a.rule}`) : ""),
          h("td", { class: a.state === "firing" ? "red" : "" }, t("alarm." + a.state)), h("td", { class: "num" }, reading(a.value)))))),
  );
  if (!point) return;
  const series = await api<{ samples: { t: string; v: number }[] }>(
    `/devices/${encodeURIComponent(id)}/history?point=${encodeURIComponent(point)}&range=${rng}`);
  if (series.samples.length === 0) {
    chartBox.append(h("p", { class: "empty" }, t("eng.noData")));
    return;
  }
  const xs = series.samples.map((s) => Date.parse(s.t) / 1000);
  const ys = series.samples.map((s) => s.v);
  chartBox.dataset.points = String(xs.length);
  chartBox.dataset.zone = zone;
  const pm = meta[point];
  const span = xs[xs.length - 1] - xs[0];
  new uPlot({
    // Within the chart box (its padding and border) on every screen.
    width: Math.max(240, Math.min(900, (chartBox.clientWidth || 900) - 18)), height: 260,
    // The time axis and legend in the site's zone and the UI's words, as
    // every other time on the page: 04:15 over an hour or a day, 12-05 over
    // a week or a month (not uPlot's "12/5/26 4:15am").
    tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1e3), zone),
    series: [{ label: t("eng.time"), value: (_u: uPlot, ts: number | null) => (ts == null ? "—" : when(new Date(ts * 1e3).toISOString(), zone, true)) },
      { label: pointLabel(pm, point), stroke: "#1677ff", width: 1.5,
        value: (_u: uPlot, v: number | null) => (v == null ? "—" : pointValue(pm, v)) }],
    // Ticks at least a label's width apart, each label once.
    axes: [{ space: 72, values: (_u: uPlot, splits: number[]) => splits.map((ts) => {
      // Seconds when the data span minutes only (a device that just came up).
      const [day, time] = when(new Date(ts * 1e3).toISOString(), zone, span < 600).split(" ");
      return rng === "1h" || rng === "24h" ? time : day;
    }).map((l, i, all) => (i > 0 && all[i - 1] === l ? "" : l)) }, pm?.states ? { values: (_u: uPlot, vs: number[]) => vs.map((v) => pm.states?.[String(v)] ? pointValue(pm, v) : "") } : {}],
  }, [xs, ys], chartBox);
}

// siteTree is the sites → buildings navigation above the device list, each
// entry with its device count and how many are offline.
function siteTree(devices: Device[], site: string, building: string): HTMLElement {
  const counts = new Map<string, { n: number; off: number; buildings: Map<string, { n: number; off: number }> }>();
  for (const d of devices) {
    const s = counts.get(d.site) || { n: 0, off: 0, buildings: new Map() };
    const b = s.buildings.get(d.building || "") || { n: 0, off: 0 };
    const off = d.state === "offline" || d.stale ? 1 : 0;
    s.n++; s.off += off; b.n++; b.off += off;
    s.buildings.set(d.building || "", b);
    counts.set(d.site, s);
  }
  const label = (name: string, c: { n: number; off: number }) =>
    `${name} · ${t("eng.count", { n: c.n })}` + (c.off ? ` · ${t("eng.offlineCount", { n: c.off })}` : "");
  const link = (q: string, text: string, active: boolean, off: number) =>
    h("a", { href: "#/engineering" + q, class: (active ? "active " : "") + (off ? "has-offline" : "") }, text);
  return h("div", { class: "tree", id: "site-tree" },
    link("", t("eng.allSites"), !site, 0),
    ...[...counts.entries()].sort().map(([s, c]) => h("div", { class: "tree-site" },
      link(`?site=${encodeURIComponent(s)}`, label(siteName(s), c), site === s && !building, c.off),
      ...[...c.buildings.entries()].sort().map(([b, bc]) =>
        link(`?site=${encodeURIComponent(s)}&building=${encodeURIComponent(b)}`,
          label(b ? t("eng.building", { b }) : t("eng.noBuilding"), bc), site === s && building === b, bc.off)))));
}

export const engineeringPage: Page = {
  route: "engineering",
  nav: "nav.engineering",
  roles: ["admin", "manager", "engineer"],
  refreshMs: 10000,
  async render(root, params) {
    const id = params.get("device");
    if (id) return deviceDetail(root, id, params);
    const [{ gateways }, { devices }] = await Promise.all([
      api<{ gateways: Gateway[] }>("/gateways"),
      api<{ devices: Device[] }>("/devices"),
    ]);
    const now = Date.now();
    const site = params.get("site") || "";
    const building = params.get("building") || "";
    const tree = siteTree(devices, site, building);
    const shown = devices.filter((d) => (!site || d.site === site) && (!building || (d.building || "") === building));
    shown.sort((a, b) => (a.state === "offline" ? 0 : 1) - (b.state === "offline" ? 0 : 1) || a.id.localeCompare(b.id));
    clear(root,
      h("div", { class: "page-head" }, h("h2", {}, t("eng.title"))),
      h("h3", {}, t("eng.gateways")),
      h("table", { class: "grid compact", id: "gateways" },
        h("thead", {}, h("tr", {}, ...["col.gateway", "col.lastSeen", "col.devices", "col.offline", "col.backlog", "col.outbox"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, ...gateways.map((g) => h("tr", { class: g.stale ? "stale" : "" },
          h("td", {}, `${siteName(g.site)} / ${g.gateway}`),
          h("td", {}, duration(now - Date.parse(g.received_at))),
          h("td", { class: "num" }, g.devices),
          h("td", { class: "num" }, g.offline),
          h("td", { class: "num" }, g.telemetry_backlog),
          h("td", { class: "num" }, g.outbox_pending))))),
      tree,
      h("h3", {}, t("eng.devices")),
      devices.length === 0 ? h("p", { class: "empty" }, t("eng.noDevices")) :
        h("table", { class: "grid", id: "devices" },
          h("thead", {}, h("tr", {}, ...["col.device", "col.location", "col.state", "col.lastSeen", "col.errors"].map((k) => h("th", {}, t(k))))),
          h("tbody", {}, ...shown.map((d) => h("tr", { "data-device": d.id },
            h("td", {}, h("a", { href: `#/engineering?device=${encodeURIComponent(d.id)}` }, d.id), h("small", {}, ` ${familyLabel(d.family)} ${d.model || ""}`)),
            h("td", {}, location(d)),
            h("td", {}, stateBadge(d)),
            h("td", {}, d.last_seen ? duration(now - Date.parse(d.last_seen)) : "—"),
            h("td", { class: "num", title: d.last_error || "" }, `${d.errors} / ${d.polls}`))))),
    );
  },
};
