// 住户导入: households, residents and meters of a site from a CSV or XLSX
// file (POST /households/{site}/import). Choosing a file checks it at once
// (a dry run) and lists every bad row as "file:row: column: problem"; the
// import button is enabled only once the file checks clean, and the desk
// imports it whole or not at all. The site's households export as CSV or
// XLSX in the same columns.
import { api, Me, token } from "../api";
import { busy, clear, h } from "../dom";
import { catalogues, currentLang, t } from "../i18n";
import { Page } from "../page";


interface ImportReport {
  file: string;
  site: string;
  dry_run: boolean;
  imported: boolean;
  rows: number;
  households: number;
  residents: number;
  meters: number;
  added: number;
  replaced: number;
  problems: string[];
  problems_total: number;
  details: Problem[];
  error?: string;
}

interface Problem {
  file: string;
  row?: number;
  column?: string;
  message: string;
  code?: string;
  args?: string[];
}

// problemText says a problem in the console's language: the desk's English
// text, or the Chinese message of its code with its values.
function problemText(p: Problem, english: string): string {
  const cat = catalogues[currentLang()];
  const key = "hh.p." + (p.code || "");
  if (currentLang() === "en" || !p.code || !cat[key]) return english;
  const vars: Record<string, string> = {};
  (p.args || []).forEach((a, i) => { vars[String(i)] = a; });
  const col = p.column ? (cat["hh.col." + p.column] || p.column) + ": " : "";
  return `${p.file}${p.row ? ":" + p.row : ""}: ${col}${t(key, vars)}`;
}

// upload sends the file itself as the body: the desk reads CSV or XLSX.
async function upload(site: string, file: File, dryRun: boolean): Promise<ImportReport> {
  const q = new URLSearchParams({ dry_run: String(dryRun), name: file.name });
  const resp = await fetch(`/api/v1/households/${encodeURIComponent(site)}/import?${q}`, {
    method: "POST",
    headers: { Authorization: "Bearer " + token(), "Content-Type": file.type || "application/octet-stream" },
    body: file,
  });
  let body: any = null;
  try {
    body = await resp.json();
  } catch {
    /* not JSON */
  }
  if (resp.status === 200 || (resp.status === 422 && body && Array.isArray(body.problems))) return body as ImportReport;
  throw new Error((body && body.error) || resp.statusText);
}

async function download(site: string, format: string, msg: HTMLElement) {
  try {
    const resp = await fetch(`/api/v1/households/${encodeURIComponent(site)}?format=${format}`, { headers: { Authorization: "Bearer " + token() } });
    if (!resp.ok) {
      let m = resp.statusText;
      try { m = (await resp.json()).error || m; } catch { /* keep the status */ }
      throw new Error(m);
    }
    const url = URL.createObjectURL(await resp.blob());
    const a = h("a", { href: url, download: `households-${site}.${format}` });
    document.body.append(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (e: any) {
    msg.className = "msg error";
    msg.textContent = t("hh.failed", { msg: e.message });
  }
}

function showReport(box: HTMLElement, rep: ImportReport) {
  if (rep.problems_total > 0) {
    clear(box,
      h("p", { class: "msg error", id: "hh-summary" }, t("hh.problems", { file: rep.file, n: rep.problems_total })),
      h("ol", { id: "hh-problems" }, ...rep.problems.map((p, i) => h("li", { title: p }, rep.details?.[i] ? problemText(rep.details[i], p) : p))),
      rep.problems_total > rep.problems.length ? h("p", { class: "msg" }, t("hh.more", { n: rep.problems_total - rep.problems.length })) : null);
    return;
  }
  const vars = { file: rep.file, rows: rep.rows, households: rep.households, residents: rep.residents, meters: rep.meters, added: rep.added, replaced: rep.replaced };
  clear(box, h("p", { class: rep.imported ? "msg ok" : "msg", id: "hh-summary" }, t(rep.imported ? "hh.imported" : "hh.clean", vars)));
}

export const householdsPage: Page = {
  route: "households",
  nav: "nav.households",
  roles: ["admin", "manager", "assistant"],
  async render(root: HTMLElement) {
    if (root.querySelector("#hh-import")) return; // a form being filled in is not redrawn
    const me = await api<Me>("/me");
    const site = h("input", { id: "hh-site", name: "site", required: true, value: me.site || "", readonly: me.site ? true : undefined }) as HTMLInputElement;
    const file = h("input", { id: "hh-file", name: "file", type: "file", accept: ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" }) as HTMLInputElement;
    const check = h("button", { type: "button", class: "ghost", id: "hh-check" }, t("hh.check")) as HTMLButtonElement;
    const submit = h("button", { type: "submit", id: "hh-submit", disabled: true }, t("hh.import")) as HTMLButtonElement;
    const result = h("div", { class: "wide", id: "hh-result" });
    const exportMsg = h("span", { class: "msg", id: "hh-export-msg" });
    const form = h("form", { class: "card", id: "hh-import" },
      h("h3", {}, t("hh.title")),
      h("p", { class: "wide muted" }, t("hh.help")),
      h("label", {}, t("hh.site"), site),
      h("label", {}, t("hh.file"), file),
      h("div", { class: "wide actions" }, check, submit),
      result,
    ) as HTMLFormElement;
    // The file and site that last checked clean: only they may be imported.
    let clean: { file: File; site: string } | null = null;
    const dryRun = async () => {
      clean = null;
      submit.disabled = true;
      const f = file.files?.[0];
      if (!f) return;
      if (!site.value.trim()) {
        clear(result, h("p", { class: "msg error" }, t("hh.needSite")));
        return;
      }
      clear(result, h("p", { class: "msg" }, t("hh.checking")));
      try {
        const rep = await busy(result, () => upload(site.value.trim(), f, true));
        showReport(result, rep);
        if (rep.problems_total === 0) {
          clean = { file: f, site: site.value.trim() };
          submit.disabled = false;
        }
      } catch (e: any) {
        clear(result, h("p", { class: "msg error" }, t("hh.failed", { msg: e.message })));
      }
    };
    file.addEventListener("change", dryRun);
    // A site typed in is checked when the field is left (which may be by
    // pressing the import button): the same site as checked changes nothing.
    site.addEventListener("change", () => {
      if (!clean || clean.site !== site.value.trim()) dryRun();
    });
    check.addEventListener("click", dryRun);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!clean) return;
      submit.disabled = true;
      try {
        const rep = await busy(result, () => upload(clean!.site, clean!.file, false));
        showReport(result, rep);
      } catch (e: any) {
        clear(result, h("p", { class: "msg error" }, t("hh.failed", { msg: e.message })));
      }
      clean = null;
    });
    const exportSite = () => site.value.trim();
    const exporter = (format: string) => () => {
      if (!exportSite()) {
        exportMsg.textContent = t("hh.needSite");
        return;
      }
      exportMsg.textContent = "";
      download(exportSite(), format, exportMsg);
    };
    clear(root, form,
      h("div", { class: "card", id: "hh-export" },
        h("h3", {}, t("hh.export")),
        h("div", { class: "wide actions" },
          h("button", { type: "button", class: "ghost", id: "hh-export-csv", onclick: exporter("csv") }, t("hh.exportCSV")),
          h("button", { type: "button", class: "ghost", id: "hh-export-xlsx", onclick: exporter("xlsx") }, t("hh.exportXLSX")),
          exportMsg)));
  },
};
