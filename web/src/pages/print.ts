// 维修单 / 派工单: the ticket as the engineer takes it to the household, for
// the browser's print (A5 portrait; A4 works too): the site, the ticket's
// number and a QR code of its console page, the resident, address, phone,
// what is wrong and the agreed time, then lines to fill in by hand: what was
// repaired, parts, charge, times, the engineer's and the resident's signatures.
import qrcode from "qrcode-generator";
import { api, TicketDetail } from "../api";
import { clear, h } from "../dom";
import { assigneeText, descriptionOf, titleOf, when, yuan } from "../format";
import { t } from "../i18n";
import { place } from "./ticket";

const svgNS = "http://www.w3.org/2000/svg";

// qrSVG draws text as a QR code (error correction M) in SVG, one path of
// dark modules, so that it prints sharp at any size.
export function qrSVG(text: string, id: string): SVGSVGElement {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  const quiet = 4;
  let d = "";
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) if (qr.isDark(r, c)) d += `M${c + quiet} ${r + quiet}h1v1h-1z`;
  }
  const svg = document.createElementNS(svgNS, "svg") as SVGSVGElement;
  svg.setAttribute("viewBox", `0 0 ${n + 2 * quiet} ${n + 2 * quiet}`);
  svg.setAttribute("id", id);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", text);
  svg.setAttribute("data-modules", String(n));
  svg.setAttribute("shape-rendering", "crispEdges");
  const bg = document.createElementNS(svgNS, "rect");
  bg.setAttribute("width", "100%");
  bg.setAttribute("height", "100%");
  bg.setAttribute("fill", "#fff");
  const path = document.createElementNS(svgNS, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "#000");
  svg.append(bg, path);
  return svg;
}

// consoleLink is the ticket's page: desk.public_url's when configured, else
// the address this console was opened at.
export function consoleLink(tk: TicketDetail): string {
  return tk.link || `${window.location.origin}/#/tickets/${tk.id}`;
}

export async function printView(root: HTMLElement, id: number) {
  const tk = await api<TicketDetail>(`/tickets/${id}`);
  const z = tk.site_timezone;
  const link = consoleLink(tk);
  document.title = `${t("print.title")} #${tk.id}`;
  const row = (label: string, value: string, cls = "") => h("tr", { class: cls }, h("th", {}, t(label)), h("td", {}, value));
  const blank = (label: string, value = "", lines = 1) => h("tr", { class: "blank" }, h("th", {}, t(label)),
    h("td", { class: `lines lines-${lines}` }, value));
  clear(root,
    h("div", { class: "no-print print-bar" },
      h("button", { type: "button", id: "print-now", onclick: () => window.print() }, t("print.print")),
      h("a", { href: `#/tickets/${tk.id}`, class: "button ghost" }, t("ticket.back")),
      h("span", { class: "muted" }, t("print.hint"))),
    h("article", { class: "print-sheet", id: "print-sheet" },
      h("header", { class: "sheet-head" },
        h("div", {},
          h("div", { class: "sheet-site" }, tk.site_name || tk.site),
          h("h1", {}, t("print.title")),
          h("div", { class: "sheet-no" }, `${t("print.no")} ${String(tk.id).padStart(6, "0")} · ${t("kind." + tk.kind)} · ${tk.priority}`)),
        h("figure", { class: "sheet-qr" }, qrSVG(link, "print-qr"), h("figcaption", {}, t("print.scan")))),
      h("table", { class: "sheet" },
        h("tbody", {},
          row("print.resident", tk.reporter || ""),
          row("print.phone", tk.phone || ""),
          row("print.address", place(tk)),
          row("print.problem", [titleOf(tk), descriptionOf(tk)].filter(Boolean).join(" — ")),
          tk.device ? row("ticket.device", tk.device) : null,
          row("print.accepted", when(tk.created_at, z)),
          row("print.appointment", when(tk.appointment_at, z)),
          row("print.dispatchedTo", assigneeText(tk)),
          blank("print.arrived", when(tk.on_site_at, z)),
          blank("print.repaired", tk.resolution || "", 3),
          blank("print.parts", tk.parts || "", 2),
          blank("print.charge", yuan(tk.charge_cents)),
          blank("print.finished", when(tk.resolved_at, z)),
          h("tr", { class: "blank" }, h("th", {}, t("print.opinion")),
            h("td", { class: "lines" }, ["satisfaction.5", "satisfaction.4", "satisfaction.3", "satisfaction.2"].map((k) => "□ " + t(k).replace(/^\d /, "")).join("　"))),
          blank("print.engineerSign"),
          blank("print.residentSign"),
        )),
      h("footer", { class: "sheet-foot" }, `${link} · ${t("print.printed", { at: when(new Date().toISOString(), z) })}`)),
  );
}
