// 中控室: open incidents live over the desk's event stream, emergencies first,
// flashing with a sound until acknowledged, with each ticket's own deadline
// countdowns; acknowledge, dispatch and add a note from the row.
import { action, api, APIError, openStatuses, Ticket } from "../api";
import { clear, h, location, reading } from "../dom";
import { events } from "../events";
import { currentLang, duration, t } from "../i18n";
import { Page } from "../page";

let soundOn = localStorage.getItem("estate.sound") !== "off";
let audio: AudioContext | null = null;

function beep() {
  if (!soundOn) return;
  // Counted on the page so that an operator (and the browser test) can tell
  // the alert sounded even when the speakers are off.
  document.body.dataset.alerts = String(Number(document.body.dataset.alerts || 0) + 1);
  try {
    audio = audio || new AudioContext();
    const o = audio.createOscillator();
    const g = audio.createGain();
    o.frequency.value = 880;
    g.gain.value = 0.2;
    o.connect(g).connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.25);
  } catch {
    /* no audio device: the flashing row still shows */
  }
}

const tickets = new Map<number, Ticket>();
let selected: number | null = null;
let root: HTMLElement | null = null;
let ticker: number | undefined;
let unsubscribe: (() => void)[] = [];
let ticks = 0;

const teams = ["engineering", "security", "customer_service", "management"];

// alerting is an emergency nobody has acknowledged yet.
function alerting(tk: Ticket): boolean {
  return tk.kind === "emergency" && !tk.acknowledged_at && tk.status === "new";
}

function sorted(): Ticket[] {
  return [...tickets.values()].sort((a, b) =>
    Number(alerting(b)) - Number(alerting(a)) || a.priority.localeCompare(b.priority) || b.id - a.id);
}

function countdownText(el: HTMLElement, now: number) {
  const left = Date.parse(el.dataset.due!) - now;
  const label = t("step." + el.dataset.step);
  el.classList.toggle("overdue", left < 0);
  el.textContent = left < 0 ? `${label} ${t("control.overdue", { d: duration(-left) })}` : `${label} ${duration(left)}`;
}

function deadlineCell(tk: Ticket, now: number): HTMLElement {
  const cell = h("td", { class: "deadline" });
  for (const d of tk.deadlines || []) {
    if (d.state === "pending") {
      const div = h("div", { class: "countdown", "data-due": d.due_at, "data-step": d.step });
      countdownText(div, now);
      cell.append(div);
    } else if (d.state === "missed") {
      cell.append(h("div", { class: "overdue" }, `${t("step." + d.step)} ${t("deadline.missed")}`));
    } else if (d.state === "met") {
      cell.append(h("div", { class: "met" }, `${t("step." + d.step)} ✓`));
    }
  }
  return cell;
}

function statusCell(tk: Ticket): HTMLElement {
  return h("td", { class: "status" },
    t("status." + tk.status),
    tk.acknowledged_at ? h("span", { class: "badge acked" }, t("control.acked")) : null,
    tk.assignee || tk.team ? h("div", { class: "muted" }, tk.assignee || t("team." + tk.team)) : null,
    tk.escalation_level > 0 ? h("div", { class: "badge escalated" }, t("control.escalated", { n: tk.escalation_level })) : null,
  );
}

async function act(id: number, body: Record<string, unknown>, msg?: HTMLElement) {
  try {
    const tk = await action(id, body);
    upsert(tk);
    if (msg) msg.textContent = t("control.done");
  } catch (e: any) {
    const text = e instanceof APIError ? e.message : String(e);
    if (msg) msg.textContent = t("control.failed", { msg: text });
    else window.alert(t("control.failed", { msg: text }));
  }
}

function draw() {
  const box = root?.querySelector("#incidents-box") as HTMLElement | null;
  if (!box) return;
  const now = Date.now();
  const list = sorted();
  const count = root!.querySelector("#incident-count");
  if (count) count.textContent = t("control.count", { n: list.length, a: list.filter(alerting).length });
  if (list.length === 0) {
    clear(box, h("p", { class: "empty" }, t("control.empty")));
    return;
  }
  const fresh = list.some((tk) => alerting(tk) && !box.querySelector(`tr[data-ticket="${tk.id}"].flashing`));
  if (fresh) window.setTimeout(beep, 0); // a new emergency sounds at once, not at the next tick
  clear(box, h("table", { class: "grid", id: "incidents" },
    h("thead", {}, h("tr", {},
      ...["col.id", "col.kind", "col.title", "col.location", "col.device", "col.reading", "col.age", "col.deadline", "col.status", ""]
        .map((k) => h("th", {}, k ? t(k) : "")))),
    h("tbody", {}, ...list.map((tk) =>
      h("tr", {
        class: `kind-${tk.kind}` + (alerting(tk) ? " flashing" : "") + (tk.acknowledged_at ? " acked" : "") + (tk.id === selected ? " selected" : ""),
        "data-ticket": tk.id,
        onclick: () => select(tk.id),
      },
        h("td", {}, "#" + tk.id),
        h("td", {}, h("span", { class: `badge ${tk.kind}` }, t("kind." + tk.kind))),
        h("td", {}, tk.title),
        h("td", {}, location(tk)),
        h("td", {}, tk.device || ""),
        h("td", {}, tk.reading ? `${tk.reading.point} ${reading(tk.reading.value)} ${tk.reading.unit || ""}` : ""),
        h("td", { class: "age", "data-since": tk.created_at }, duration(now - Date.parse(tk.created_at))),
        deadlineCell(tk, now),
        statusCell(tk),
        h("td", {}, !tk.acknowledged_at && (tk.status === "new" || tk.status === "dispatched")
          ? h("button", { class: "ack", onclick: (ev: Event) => { ev.stopPropagation(); void act(tk.id, { action: "acknowledge" }); } }, t("control.ack"))
          : null),
      ))),
  ));
}

// panel is the selected incident's actions: dispatch to a team or a person,
// add a note, and the notes so far.
async function panel() {
  const box = root?.querySelector("#action-panel") as HTMLElement | null;
  if (!box) return;
  const tk = selected !== null ? tickets.get(selected) : undefined;
  if (!tk) {
    clear(box);
    return;
  }
  const msg = h("p", { class: "msg", id: "panel-msg" });
  const team = h("select", { name: "team" }, h("option", { value: "" }, "—"), ...teams.map((x) => h("option", { value: x }, t("team." + x)))) as HTMLSelectElement;
  const assignee = h("input", { name: "assignee", placeholder: t("control.assigneeHint") }) as HTMLInputElement;
  const dispatch = h("form", { id: "dispatch-form", class: "inline" },
    h("label", {}, t("control.team"), team), h("label", {}, t("control.assignee"), assignee),
    h("button", { type: "submit" }, t("control.dispatch")));
  dispatch.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body: Record<string, unknown> = { action: "dispatch" };
    if (assignee.value.trim()) body.assignee = assignee.value.trim();
    if (team.value) body.team = team.value;
    void act(tk.id, body, msg);
  });
  const note = h("textarea", { name: "body", rows: 2, required: true, maxlength: 2000 }) as HTMLTextAreaElement;
  const comments = h("ul", { id: "comments" });
  const noteForm = h("form", { id: "note-form", class: "inline" }, h("label", { class: "wide" }, t("control.note"), note),
    h("button", { type: "submit" }, t("control.addNote")));
  noteForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api(`/tickets/${tk.id}/comments`, { method: "POST", body: JSON.stringify({ body: note.value }) });
      note.value = "";
      msg.textContent = t("control.done");
      await loadComments(tk.id, comments);
    } catch (e: any) {
      msg.textContent = t("control.failed", { msg: e.message });
    }
  });
  clear(box, h("div", { class: "card panel" },
    h("h3", {}, `#${tk.id} ${tk.title}`, h("button", { type: "button", class: "ghost", onclick: () => select(null) }, "×")),
    dispatch, noteForm, msg, comments));
  await loadComments(tk.id, comments);
}

async function loadComments(id: number, ul: HTMLElement) {
  const { comments } = await api<{ comments: { author: string; at: string; body: string }[] }>(`/tickets/${id}/comments`);
  clear(ul, ...(comments || []).map((c) => h("li", {}, h("small", {}, `${new Date(c.at).toLocaleTimeString()} ${c.author}: `), c.body)));
}

function select(id: number | null) {
  selected = id;
  draw();
  void panel();
}

// upsert takes a ticket from an event or an action; events carry no
// deadlines, so the ticket is drawn at once and its deadlines fetched after.
function upsert(tk: Ticket, withDeadlines = !!tk.deadlines) {
  if (tk.kind === "top_up") return;
  if (!openStatuses.has(tk.status)) {
    tickets.delete(tk.id);
    if (selected === tk.id) select(null);
    draw();
    return;
  }
  const known = tickets.get(tk.id);
  tickets.set(tk.id, { ...tk, deadlines: tk.deadlines || known?.deadlines });
  draw();
  if (!withDeadlines) {
    api<Ticket>(`/tickets/${tk.id}`).then((full) => {
      if (tickets.has(full.id)) {
        tickets.set(full.id, full);
        draw();
      }
    }).catch(() => { /* the next event retries */ });
  }
}

async function loadAll() {
  const { tickets: open } = await api<{ tickets: Ticket[] }>("/tickets?open=true&limit=500");
  const incidents = open.filter((tk) => tk.kind !== "top_up");
  const full = await Promise.all(incidents.map((tk) => api<Ticket>(`/tickets/${tk.id}`).catch(() => tk)));
  tickets.clear();
  full.forEach((tk) => tickets.set(tk.id, tk));
  draw();
}

function tick() {
  ticks++;
  const now = Date.now();
  root?.querySelectorAll<HTMLElement>("#incidents .countdown").forEach((el) => countdownText(el, now));
  root?.querySelectorAll<HTMLElement>("#incidents .age").forEach((el) => {
    el.textContent = duration(now - Date.parse(el.dataset.since!));
  });
  if (ticks % 2 === 1 && [...tickets.values()].some(alerting)) beep();
}

interface GatewayAlarm {
  key: string;
  device: string;
  building?: string;
  unit?: string;
  since?: string;
  suppressed?: string;
  message_zh: string;
  message_en: string;
  gateway: string;
  stale: boolean;
}

// showSuppressed lists, on demand, the alarms the gateways hold back from
// tickets (a power outage on the feeder, a maintenance window) and why.
async function showSuppressed(box: HTMLElement) {
  if (box.childElementCount > 0) {
    clear(box);
    return;
  }
  const { alarms } = await api<{ alarms: GatewayAlarm[] }>("/alarms?suppressed=true");
  const now = Date.now();
  clear(box,
    h("h3", {}, t("control.suppressedTitle", { n: alarms.length })),
    alarms.length === 0 ? h("p", { class: "empty" }, t("control.noSuppressed")) :
      h("table", { class: "grid compact", id: "suppressed" },
        h("thead", {}, h("tr", {}, ...["col.device", "col.location", "col.title", "control.why", "col.age"].map((k) => h("th", {}, t(k))))),
        h("tbody", {}, ...alarms.map((a) => h("tr", { class: a.stale ? "stale" : "", "data-alarm": a.key },
          h("td", {}, a.device),
          h("td", {}, location(a)),
          h("td", {}, currentLang() === "en" ? a.message_en : a.message_zh),
          h("td", { class: "why" }, a.suppressed || ""),
          h("td", {}, a.since ? duration(now - Date.parse(a.since)) : ""))))),
  );
}

export const controlPage: Page = {
  route: "control",
  nav: "nav.control",
  roles: ["admin", "manager", "control_room", "engineer"],
  async render(r: HTMLElement) {
    controlPage.leave!();
    root = r;
    const soundToggle = h("button", {
      class: "ghost", id: "sound",
      onclick: () => {
        soundOn = !soundOn;
        localStorage.setItem("estate.sound", soundOn ? "on" : "off");
        soundToggle.textContent = `${t("control.sound")}: ${t(soundOn ? "control.soundOn" : "control.soundOff")}`;
        if (soundOn) beep(); // a click lets the browser start audio
      },
    }, `${t("control.sound")}: ${t(soundOn ? "control.soundOn" : "control.soundOff")}`);
    const suppressedBox = h("div", { id: "suppressed-box" });
    const suppressedToggle = h("button", {
      class: "ghost", id: "show-suppressed",
      onclick: () => void showSuppressed(suppressedBox),
    }, t("control.showSuppressed"));
    clear(r,
      h("div", { class: "page-head" }, h("h2", {}, t("control.title")), h("span", { id: "incident-count", class: "muted" }),
        suppressedToggle, soundToggle),
      h("div", { id: "incidents-box" }),
      suppressedBox,
      h("div", { id: "action-panel" }),
    );
    unsubscribe = [
      events.on((e) => {
        if (e.type.startsWith("ticket.") && e.data && typeof e.data.id === "number") upsert(e.data as Ticket, false);
      }),
      // After a drop the stream resumes from its last event, but a reload
      // also picks up deadlines that moved while the page was away.
      events.onStatus((live) => { if (live) void loadAll(); }),
    ];
    await loadAll();
    ticker = window.setInterval(tick, 1000);
  },
  leave() {
    unsubscribe.forEach((u) => u());
    unsubscribe = [];
    window.clearInterval(ticker);
    selected = null;
  },
};
