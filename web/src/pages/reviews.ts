// The reviews of the manuals (issue 14 part 6), shown on the reports page:
// the monthly figures beside the site's targets ("—" when there is nothing to
// count), the open cases of each owner today, and the week's overdue
// deadlines with their causes.
import { api, Report } from "../api";
import { h } from "../dom";
import { person, titleOf, when } from "../format";
import { t } from "../i18n";

const pct = (x: number) => `${+(x * 100).toFixed(1)}%`;

export function targetsTable(r: Report): HTMLElement {
  const rows = r.targets || [];
  const show = (name: string, v: number | null) => (v === null ? "—" : name === "households_followed_up" ? String(v) : pct(v));
  return h("table", { class: "grid compact", id: "rep-targets" },
    h("thead", {}, h("tr", {}, ...["tgt.name", "tgt.figure", "tgt.target", "tgt.met"].map((k) => h("th", {}, t(k))))),
    h("tbody", {}, ...rows.map((g) => h("tr", { "data-target": g.name + (g.step ? "/" + g.step : ""), class: g.met === false ? "overdue" : "" },
      h("td", {}, t("tgt." + g.name, { step: g.step ? t("step." + g.step) : "" })),
      h("td", { class: "num" }, show(g.name, g.value), g.value !== null && g.name !== "households_followed_up" ? h("small", { class: "muted" }, ` (${g.num}/${g.den})`) : null),
      h("td", { class: "num" }, `${g.op === "<=" ? "≤" : "≥"} ${g.name === "households_followed_up" ? g.target : pct(g.target)}`),
      h("td", {}, g.met === null ? "—" : t(g.met ? "tgt.yes" : "tgt.no"))))));
}

interface OwnerCases { owner: string; open: number; overdue: number; cases: { id: number; title: string; status: string; next_step?: string; next_due?: string; overdue: boolean }[] }
interface OverdueRow { ticket_id: number; title: string; owner: string; assignee?: string; step: string; due_at: string; cause?: string; explanation?: string; committed_at?: string }

export async function reviews(site: string, zone: string): Promise<HTMLElement> {
  const [daily, weekly] = await Promise.all([
    api<{ owners: OwnerCases[] }>(`/reviews/daily?site=${encodeURIComponent(site)}`),
    api<{ overdue: OverdueRow[] }>(`/reviews/weekly?site=${encodeURIComponent(site)}`),
  ]);
  return h("div", { id: "reviews" },
    h("h3", {}, t("rev.daily")),
    daily.owners.length === 0 ? h("p", { class: "empty" }, t("rev.noneOpen")) :
      h("table", { class: "grid compact", id: "rev-daily" },
        h("thead", {}, h("tr", {}, ...["rev.owner", "rev.open", "rev.overdue", "rev.next"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, ...daily.owners.map((o) => h("tr", { class: o.overdue ? "overdue" : "" },
          h("td", {}, o.owner ? person(o.owner) : t("owner.none")), h("td", { class: "num" }, o.open), h("td", { class: "num" }, o.overdue),
          h("td", {}, h("ul", { class: "rev-cases" }, ...o.cases.slice(0, 8).map((c) => h("li", { class: c.overdue ? "overdue" : "" },
            h("a", { href: `#/tickets/${c.id}` }, `#${c.id} ${titleOf(c)}`),
            c.next_step ? h("small", { class: "muted" }, ` · ${t("step." + c.next_step)} ${when(c.next_due, zone)}`) : null)),
            o.cases.length > 8 ? h("li", { class: "muted" }, "…") : null)))))),
    h("h3", {}, t("rev.weekly")),
    weekly.overdue.length === 0 ? h("p", { class: "empty" }, t("rev.noneOverdue")) :
      h("table", { class: "grid compact", id: "rev-weekly" },
        h("thead", {}, h("tr", {}, ...["col.id", "rev.owner", "rev.step", "rev.due", "rev.cause"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, ...weekly.overdue.map((o) => h("tr", {},
          h("td", {}, h("a", { href: `#/tickets/${o.ticket_id}` }, `#${o.ticket_id} ${o.title}`)),
          h("td", {}, person(o.owner)), h("td", {}, t("step." + o.step)), h("td", { class: "nowrap" }, when(o.due_at, zone)),
          h("td", {}, o.explanation ? `${o.explanation}${o.committed_at ? " · " + t("owner.committed", { at: when(o.committed_at, zone) }) : ""}` : o.cause ? t("cause." + o.cause) : "—"))))));
}
