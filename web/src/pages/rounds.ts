// 巡检: inspection rounds on a phone. Today's rounds of the caller's site;
// a round walked checkpoint by checkpoint: each confirmed by scanning its QR
// label with the phone's camera (the browser's BarcodeDetector, else jsQR on
// the camera's frames) or by typing its code, then each item answered
// (pass/fail, a reading, a note); a failed item shows the ticket it opened
// and its 24-hour deadline. The round's record prints (#/rounds/<id>/print),
// and so do the checkpoints' QR labels (#/rounds/labels).
import jsQR from "jsqr";
import { api, TicketDetail } from "../api";
import { busy, clear, h } from "../dom";
import { events } from "../events";
import { errorText, person, when } from "../format";
import { currentLang, t } from "../i18n";
import { Page } from "../page";
import { qrSVG } from "./print";

interface CheckItem {
  id: string;
  label: string;
  label_en?: string;
  type: "check" | "reading" | "note";
  unit?: string;
  min?: number;
  max?: number;
  result?: Result;
}

interface Result {
  checkpoint: string;
  item: string;
  outcome: "pass" | "fail" | "noted";
  value?: number;
  note?: string;
  ticket_id?: number;
  at: string;
  by: string;
}

interface Visit {
  at: string;
  by: string;
  method: string;
  reader?: string;
}

interface CheckpointState {
  code: string;
  name: string;
  name_en?: string;
  floor?: string;
  unit?: string;
  visited?: Visit;
  items: CheckItem[];
}

interface Round {
  id: number;
  site: string;
  route: string;
  name: string;
  name_en?: string;
  building?: string;
  day: string;
  status: string;
  starts_at: string;
  start_by: string;
  finish_by: string;
  started_at?: string;
  started_by?: string;
  finished_at?: string;
  finished_by?: string;
  late?: boolean;
  escalated_at?: string;
  missed_ticket?: number;
  progress: { checkpoints: number; visited: number; items: number; answered: number; failed: number };
  checkpoints?: CheckpointState[];
  site_name?: string;
  site_timezone?: string;
}

interface Route {
  id: string;
  site: string;
  site_name: string;
  name: string;
  name_en?: string;
  next?: string;
  checkpoints: { code: string; name: string; name_en?: string; floor?: string }[];
}

const en = () => currentLang() === "en";
const named = (o: { name: string; name_en?: string }) => (en() && o.name_en) || o.name;
const label = (it: CheckItem) => (en() && it.label_en) || it.label;

let unsubscribe: (() => void)[] = [];
let stopScan: (() => void) | undefined;

function limits(it: CheckItem): string {
  const u = it.unit ? " " + it.unit : "";
  if (it.min !== undefined && it.max !== undefined) return `${it.min}–${it.max}${u}`;
  if (it.min !== undefined) return `≥ ${it.min}${u}`;
  if (it.max !== undefined) return `≤ ${it.max}${u}`;
  return it.unit || "";
}

function statusBadge(r: Round): HTMLElement {
  return h("span", { class: `badge round-${r.status}`, "data-status": r.status }, t("round.status." + r.status) + (r.late ? " · " + t("round.late") : ""));
}

// ---- today's rounds ----

async function drawList(root: HTMLElement) {
  const { rounds } = await api<{ rounds: Round[] }>("/rounds");
  clear(root,
    h("div", { class: "page-head" }, h("h2", {}, t("round.title")),
      h("a", { href: "#/rounds/labels", class: "button ghost", id: "round-labels" }, t("round.labels"))),
    rounds.length === 0 ? h("p", { class: "empty" }, t("round.none")) :
      h("div", { class: "work-list", id: "round-list" }, ...rounds.map((r) => {
        const z = r.site_timezone;
        return h("article", { class: "work-card round-card", "data-round": r.id, "data-route": r.route },
          h("div", { class: "work-top" }, statusBadge(r), h("span", { class: "muted" }, r.day)),
          h("a", { href: `#/rounds/${r.id}`, class: "work-title" }, named(r)),
          h("div", {}, t("round.window", { from: when(r.starts_at, z), to: when(r.finish_by, z) })),
          h("div", { class: "muted" }, t("round.progress", { v: r.progress.visited, c: r.progress.checkpoints, a: r.progress.answered, i: r.progress.items }),
            r.progress.failed ? h("span", { class: "badge round-fail" }, t("round.failed", { n: r.progress.failed })) : null),
          r.missed_ticket ? h("a", { href: `#/tickets/${r.missed_ticket}` }, t("round.escalated", { id: r.missed_ticket })) : null,
          h("div", { class: "work-actions" },
            h("a", { href: `#/rounds/${r.id}`, class: "button open-round" }, t(r.finished_at ? "round.view" : r.started_at ? "round.continue" : "round.start"))));
      })));
}

// ---- one round ----

async function post<T>(path: string, body?: unknown): Promise<T> {
  return api<T>(path, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body) });
}

// scanner opens the camera and calls found with the first QR code it reads.
async function scanner(box: HTMLElement, found: (code: string) => void) {
  stopScan?.();
  const msg = h("p", { class: "msg error", role: "alert" });
  const video = h("video", { class: "scan-video", playsinline: true, muted: true }) as HTMLVideoElement;
  clear(box, video, h("button", { type: "button", class: "ghost", onclick: () => { stopScan?.(); clear(box); } }, t("round.scanStop")), msg);
  if (!navigator.mediaDevices?.getUserMedia) {
    msg.textContent = t("round.noCamera");
    return;
  }
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (e: any) {
    msg.textContent = t("round.cameraRefused", { msg: e?.message || String(e) });
    return;
  }
  let running = true;
  stopScan = () => {
    running = false;
    stream.getTracks().forEach((tr) => tr.stop());
    stopScan = undefined;
  };
  video.srcObject = stream;
  await video.play().catch(() => undefined);
  const Detector = (window as any).BarcodeDetector;
  const detector = Detector ? new Detector({ formats: ["qr_code"] }) : null;
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const frame = async () => {
    if (!running) return;
    let code = "";
    if (video.readyState >= 2) {
      if (detector) {
        const codes = await detector.detect(video).catch(() => []);
        code = codes[0]?.rawValue || "";
      } else if (ctx) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        ctx.drawImage(video, 0, 0);
        const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
        code = jsQR(img.data, img.width, img.height)?.data || "";
      }
    }
    if (code) {
      stopScan?.();
      clear(box);
      found(code.trim());
      return;
    }
    window.setTimeout(frame, 200);
  };
  frame();
}

function checkpointSection(r: Round, cp: CheckpointState, redraw: (r: Round) => void): HTMLElement {
  const z = r.site_timezone;
  const msg = h("p", { class: "msg error", role: "alert" });
  const open = !r.finished_at;
  const confirm = async (code: string, method: string) => {
    msg.textContent = "";
    try {
      redraw(await post<Round>(`/rounds/${r.id}/visits`, { code, method }));
    } catch (e) {
      msg.textContent = errorText(e);
    }
  };
  let body: HTMLElement;
  if (!cp.visited) {
    const scanBox = h("div", { class: "scan-box" });
    const code = h("input", { name: "code", autocomplete: "off", autocapitalize: "characters", placeholder: cp.code ? t("round.codeHint") : "", maxlength: 64 }) as HTMLInputElement;
    const form = h("form", { class: "code-form" },
      h("label", {}, t("round.code"), code),
      h("button", { type: "submit", class: "ghost confirm-code" }, t("round.confirmCode"))) as HTMLFormElement;
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (code.value.trim()) void confirm(code.value.trim(), "manual");
    });
    body = h("div", { class: "cp-confirm" },
      open ? h("button", { type: "button", class: "scan", onclick: () => scanner(scanBox, (c) => confirm(c, "qr")) }, t("round.scan")) : null,
      scanBox, open ? form : null);
  } else {
    body = h("div", { class: "cp-items" }, ...cp.items.map((it) => itemRow(r, cp, it, redraw)));
  }
  return h("section", { class: "card checkpoint" + (cp.visited ? " visited" : ""), "data-code": cp.code },
    h("h3", {}, named(cp), " ", h("span", { class: "muted" }, cp.code)),
    cp.visited ? h("div", { class: "muted wide" }, t("round.visited", { at: when(cp.visited.at, z, true), by: cp.visited.reader ? t("round.reader", { id: cp.visited.reader }) : person(cp.visited.by), how: t("round.method." + cp.visited.method) })) : null,
    h("div", { class: "wide" }, body), msg);
}

function itemRow(r: Round, cp: CheckpointState, it: CheckItem, redraw: (r: Round) => void): HTMLElement {
  const res = it.result;
  const msg = h("p", { class: "msg error", role: "alert" });
  const note = h("input", { name: "note", maxlength: 500, placeholder: t("round.noteHint"), value: res?.note || "" }) as HTMLInputElement;
  const send = async (body: Record<string, unknown>) => {
    msg.textContent = "";
    try {
      const out = await post<{ round: Round; result: Result }>(`/rounds/${r.id}/results`, { checkpoint: cp.code, item: it.id, ...body });
      redraw(out.round);
    } catch (e) {
      msg.textContent = errorText(e);
    }
  };
  const open = !r.finished_at;
  let controls: HTMLElement | null = null;
  if (open) {
    switch (it.type) {
      case "check":
        controls = h("div", { class: "item-controls" }, note,
          h("div", { class: "buttons" },
            h("button", { type: "button", class: "pass" + (res?.outcome === "pass" ? " chosen" : ""), onclick: () => send({ outcome: "pass", note: note.value.trim() || undefined }) }, t("round.pass")),
            h("button", { type: "button", class: "fail danger" + (res?.outcome === "fail" ? " chosen" : ""), onclick: () => send({ outcome: "fail", note: note.value.trim() || undefined }) }, t("round.fail"))));
        break;
      case "reading": {
        const value = h("input", { name: "value", type: "number", step: "any", inputmode: "decimal", value: res?.value ?? "", "aria-label": label(it) }) as HTMLInputElement;
        const form = h("form", { class: "item-controls" }, h("div", { class: "reading-row" }, value, it.unit ? h("span", {}, it.unit) : null), note,
          h("button", { type: "submit", class: "save" }, t("round.save"))) as HTMLFormElement;
        form.addEventListener("submit", (ev) => {
          ev.preventDefault();
          if (value.value === "" || !Number.isFinite(Number(value.value))) {
            msg.textContent = t("round.needNumber");
            return;
          }
          void send({ value: Number(value.value), note: note.value.trim() || undefined });
        });
        controls = form;
        break;
      }
      case "note": {
        const form = h("form", { class: "item-controls" }, note, h("button", { type: "submit", class: "save" }, t("round.save"))) as HTMLFormElement;
        form.addEventListener("submit", (ev) => {
          ev.preventDefault();
          void send({ note: note.value.trim() });
        });
        controls = form;
      }
    }
  }
  const answered = res ? h("div", { class: "item-result" },
    h("span", { class: `badge round-${res.outcome}` }, t("round.outcome." + res.outcome)),
    res.value !== undefined ? ` ${res.value}${it.unit ? " " + it.unit : ""}` : "",
    res.note ? ` · ${res.note}` : "",
    res.ticket_id ? h("a", { href: `#/tickets/${res.ticket_id}`, class: "item-ticket", "data-ticket": res.ticket_id }, t("round.ticket", { id: res.ticket_id })) : null) : null;
  return h("div", { class: "round-item", "data-item": it.id, "data-outcome": res?.outcome || "" },
    h("div", { class: "item-label" }, label(it), it.type === "reading" && limits(it) ? h("span", { class: "muted" }, ` (${limits(it)})`) : null),
    answered, controls, msg);
}

async function drawRound(root: HTMLElement, id: number) {
  const r = await api<Round>(`/rounds/${id}`);
  const redraw = (nr: Round) => {
    // The answers carry the site's name and zone only on GET: keep them.
    nr.site_name ||= r.site_name;
    nr.site_timezone ||= r.site_timezone;
    Object.assign(r, nr);
    paint();
  };
  const msg = h("p", { class: "msg error", role: "alert", id: "round-msg" });
  const paint = () => {
    const z = r.site_timezone;
    const done = r.progress.answered === r.progress.items && r.progress.visited === r.progress.checkpoints;
    clear(root,
      h("div", { class: "page-head" },
        h("h2", {}, named(r)),
        statusBadge(r),
        h("a", { href: "#/rounds", class: "button ghost" }, t("round.back")),
        h("a", { href: `#/rounds/${r.id}/print`, class: "button ghost", id: "round-print" }, t("round.print"))),
      h("p", { class: "muted", id: "round-progress" }, `${r.site_name || r.site} · ${r.day} · `,
        t("round.window", { from: when(r.starts_at, z), to: when(r.finish_by, z) }), " · ",
        t("round.progress", { v: r.progress.visited, c: r.progress.checkpoints, a: r.progress.answered, i: r.progress.items })),
      ...(r.checkpoints || []).map((cp) => checkpointSection(r, cp, redraw)),
      r.finished_at ? h("p", { id: "round-done" }, t("round.finishedAt", { at: when(r.finished_at, z), by: person(r.finished_by) })) :
        h("div", { class: "work-actions" },
          h("button", {
            type: "button", id: "round-finish", disabled: !done, onclick: async () => {
              try {
                redraw(await post<Round>(`/rounds/${r.id}/finish`));
              } catch (e) {
                msg.textContent = errorText(e);
              }
            },
          }, t("round.finish"))),
      msg);
  };
  paint();
}

// ---- print: the round's record ----

async function drawPrint(root: HTMLElement, id: number) {
  const r = await api<Round>(`/rounds/${id}`);
  const z = r.site_timezone;
  document.title = `${t("round.recordTitle")} #${r.id}`;
  const rows: HTMLElement[] = [];
  const tickets = new Map<number, TicketDetail>();
  for (const cp of r.checkpoints || []) {
    for (const it of cp.items) if (it.result?.ticket_id && !tickets.has(it.result.ticket_id)) {
      tickets.set(it.result.ticket_id, await api<TicketDetail>(`/tickets/${it.result.ticket_id}`).catch(() => null as any));
    }
  }
  for (const cp of r.checkpoints || []) {
    cp.items.forEach((it, i) => {
      const res = it.result;
      const tk = res?.ticket_id ? tickets.get(res.ticket_id) : undefined;
      const due = tk?.deadlines?.find((d) => d.step === "resolve");
      rows.push(h("tr", {},
        i === 0 ? h("td", { rowspan: cp.items.length }, named(cp), h("br"), h("small", {}, cp.code), h("br"),
          h("small", {}, cp.visited ? `${when(cp.visited.at, z, true)} ${t("round.method." + cp.visited.method)}` : t("round.notVisited"))) : null,
        h("td", {}, label(it), it.type === "reading" && limits(it) ? h("small", {}, ` (${limits(it)})`) : null),
        h("td", {}, res ? t("round.outcome." + res.outcome) + (res.value !== undefined ? ` ${res.value}${it.unit ? " " + it.unit : ""}` : "") : "—"),
        h("td", {}, [res?.note, res?.ticket_id ? t("round.ticketDue", { id: res.ticket_id, due: due ? when(due.due_at, z) : "" }) : ""].filter(Boolean).join(" · "))));
    });
  }
  clear(root,
    h("div", { class: "no-print print-bar" },
      h("button", { type: "button", id: "print-now", onclick: () => window.print() }, t("print.print")),
      h("a", { href: `#/rounds/${r.id}`, class: "button ghost" }, t("round.back"))),
    h("article", { class: "print-sheet round-sheet", id: "print-sheet" },
      h("header", { class: "sheet-head" }, h("div", {},
        h("div", { class: "sheet-site" }, r.site_name || r.site),
        h("h1", {}, t("round.recordTitle")),
        h("div", { class: "sheet-no" }, `${named(r)} · ${r.day} · ${t("round.status." + r.status)}${r.late ? " · " + t("round.late") : ""}`))),
      h("p", {}, t("round.recordWho", {
        start: when(r.started_at, z), by: person(r.started_by) || "—", end: when(r.finished_at, z), fby: person(r.finished_by) || "—",
      })),
      h("table", { class: "sheet round-table" },
        h("thead", {}, h("tr", {}, h("th", {}, t("round.checkpoint")), h("th", {}, t("round.item")), h("th", {}, t("round.result")), h("th", {}, t("round.remarks")))),
        h("tbody", {}, ...rows)),
      h("footer", { class: "sheet-foot" }, t("print.printed", { at: when(new Date().toISOString(), z) }))));
}

// ---- print: the checkpoints' QR labels ----

async function drawLabels(root: HTMLElement) {
  const { routes } = await api<{ routes: Route[] }>("/rounds/routes");
  document.title = t("round.labels");
  clear(root,
    h("div", { class: "no-print print-bar" },
      h("button", { type: "button", id: "print-now", onclick: () => window.print() }, t("print.print")),
      h("a", { href: "#/rounds", class: "button ghost" }, t("round.back")),
      h("span", { class: "muted" }, t("round.labelsHint"))),
    ...routes.map((rt) => h("section", { class: "label-route" },
      h("h3", {}, `${rt.site_name || rt.site} · ${named(rt)}`),
      h("div", { class: "qr-labels" }, ...rt.checkpoints.map((cp) => h("figure", { class: "qr-label", "data-code": cp.code },
        qrSVG(cp.code, "qr-" + cp.code),
        h("figcaption", {}, h("strong", {}, cp.code), h("br"), named(cp))))))));
}

export const roundsPage: Page = {
  route: "rounds",
  nav: "nav.rounds",
  roles: ["admin", "manager", "engineer", "control_room"],
  async render(root, params) {
    roundsPage.leave!();
    const id = params.get("id");
    if (id === "labels") return drawLabels(root);
    if (id && params.get("print")) return drawPrint(root, Number(id));
    if (id) {
      await drawRound(root, Number(id));
      return;
    }
    await drawList(root);
    unsubscribe = [events.on((e) => {
      if (e.type.startsWith("ticket.") || e.type.startsWith("round")) void busy(root, () => drawList(root)).catch(() => undefined);
    })];
  },
  leave() {
    stopScan?.();
    unsubscribe.forEach((u) => u());
    unsubscribe = [];
  },
};
