// 客服: households whose prepaid meter shows red digits, the ticket board with
// filters, and the work-order form for phone and walk-in requests.
import { api, openStatuses, Ticket } from "../api";
import { clear, h, location } from "../dom";
import { duration, t } from "../i18n";
import { Page } from "../page";

const kinds = ["emergency", "repair", "top_up", "request", "complaint"];
const statuses = ["new", "dispatched", "on_site", "resolved", "followed_up", "closed", "cancelled"];

function newTicketForm(site: string, onDone: () => void): HTMLElement {
  const msg = h("p", { class: "msg", id: "form-msg" });
  const form = h("form", { class: "card", id: "new-ticket" },
    h("h3", {}, t("form.title")),
    h("label", {}, t("form.kind"), h("select", { name: "kind" }, ...["repair", "request", "complaint", "emergency"].map((k) => h("option", { value: k }, t("kind." + k))))),
    h("label", {}, t("form.subject"), h("input", { name: "title", required: true, maxlength: 200 })),
    h("label", {}, t("form.building"), h("input", { name: "building" })),
    h("label", {}, t("form.unit"), h("input", { name: "unit" })),
    h("label", {}, t("form.source"), h("select", { name: "source" }, ...["phone", "walk_in", "app"].map((s) => h("option", { value: s }, t("form.source." + s))))),
    h("label", { class: "wide" }, t("form.description"), h("textarea", { name: "description", rows: 3 })),
    h("button", { type: "submit" }, t("form.submit")),
    msg,
  ) as HTMLFormElement;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(form).entries()) as Record<string, string>;
    try {
      const tk = await api<Ticket>("/tickets", { method: "POST", body: JSON.stringify({ ...data, site }) });
      msg.textContent = t("form.created", { id: tk.id });
      form.reset();
      onDone();
    } catch (e: any) {
      msg.textContent = t("form.failed", { msg: e.message });
    }
  });
  return form;
}

export const assistantsPage: Page = {
  route: "assistants",
  nav: "nav.assistants",
  roles: ["admin", "assistant"],
  refreshMs: 10000,
  async render(root, params) {
    const { tickets } = await api<{ tickets: Ticket[] }>("/tickets?limit=500");
    const now = Date.now();
    const red = tickets.filter((tk) => tk.kind === "top_up" && openStatuses.has(tk.status));
    const kind = params.get("kind") || "";
    const status = params.get("status") || "";
    const board = tickets.filter((tk) => (!kind || tk.kind === kind) && (!status || tk.status === status));
    const filter = (name: string, values: string[], prefix: string, current: string) =>
      h("label", {}, t(name), h("select", {
        onchange: (ev: Event) => {
          const p = new URLSearchParams(params);
          const v = (ev.target as HTMLSelectElement).value;
          if (v) p.set(prefix, v); else p.delete(prefix);
          window.location.hash = "#/assistants?" + p.toString();
        },
      }, h("option", { value: "" }, t("asst.all")), ...values.map((v) => h("option", { value: v, selected: v === current }, t(`${prefix}.${v}`)))));
    const site = tickets[0]?.site || "";
    clear(root,
      h("div", { class: "page-head" }, h("h2", {}, t("asst.title"))),
      red.length === 0 ? h("p", { class: "empty" }, t("asst.empty")) :
        h("table", { class: "grid", id: "red-meters" },
          h("thead", {}, h("tr", {}, ...["col.unit", "col.device", "col.balance", "col.since", "col.status"].map((k) => h("th", {}, t(k))))),
          h("tbody", {}, ...red.map((tk) => h("tr", { "data-ticket": tk.id },
            h("td", {}, location(tk)),
            h("td", {}, tk.device || ""),
            h("td", { class: "num red" }, tk.reading ? tk.reading.value.toFixed(2) : ""),
            h("td", {}, duration(now - Date.parse(tk.created_at))),
            h("td", {}, t("status." + tk.status)))))),
      h("h2", {}, t("asst.board")),
      h("div", { class: "filters" }, filter("asst.filterKind", kinds, "kind", kind), filter("asst.filterStatus", statuses, "status", status)),
      h("table", { class: "grid compact", id: "board" },
        h("thead", {}, h("tr", {}, ...["col.id", "col.kind", "col.title", "col.location", "col.age", "col.status"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, ...board.map((tk) => h("tr", {},
          h("td", {}, "#" + tk.id), h("td", {}, t("kind." + tk.kind)), h("td", {}, tk.title),
          h("td", {}, location(tk)), h("td", {}, duration(now - Date.parse(tk.created_at))), h("td", {}, t("status." + tk.status)))))),
      site ? newTicketForm(site, () => assistantsPage.render(root, params)) : null,
    );
  },
};
