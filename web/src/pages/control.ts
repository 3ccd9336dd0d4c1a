// 中控室: open incidents live over the desk's event stream, emergencies first,
// flashing with a sound until acknowledged, with each ticket's own deadline
// countdowns; acknowledge, dispatch and add a note from the row.
import { action, api, APIError, GatewayAlarm, openStatuses, Ticket } from "../api";
import { clear, h, location, reading } from "../dom";
import { events } from "../events";
import { assigneeText, defaultZone, errorText, person, staff, titleOf, when } from "../format";
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
// Alarms that open no ticket (ticket: none: a forced or held door, a
// tamper), from the gateways' heartbeats; the ticketed ones are their tickets.
let alarms: GatewayAlarm[] = [];
let alarmPoll: number | undefined;
let generation = 0; // a poll of a page since left stops
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

// alarmAlerting is a critical ticketless alarm nobody has acknowledged yet.
function alarmAlerting(a: GatewayAlarm): boolean {
  return a.severity === "critical" && !a.acknowledged_by && (a.state === "firing" || a.state === "cleared");
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

// The owner's steps (the reply, the weekly call) are the front desk's, not
// the control room's: left to the ticket's page and "my cases".
const ownersSteps = ["reply", "weekly_call"];

// clipCell is a one-line cell cut with an ellipsis, its whole text in the
// tooltip: location, device and reading may be as long as an id or a
// building's name gets, and the control room must fit a 1366 px screen
// whatever the data (a long device id once pushed it 81 px wide).
function clipCell(text: string): HTMLElement {
  return h("td", { class: "clip", title: text }, text);
}

function deadlineCell(tk: Ticket, now: number): HTMLElement {
  const cell = h("td", { class: "deadline" });
  const mine = (tk.deadlines || []).filter((d) => !ownersSteps.includes(d.step));
  const pending = mine.filter((d) => d.state === "pending");
  // On one line the nearest comes first; the tooltip names every step.
  pending.sort((a, b) => Date.parse(a.due_at) - Date.parse(b.due_at));
  cell.title = pending.map((d) => `${t("step." + d.step)} ${when(d.due_at, defaultZone)}`).join("\n");
  for (const d of [...mine.filter((d) => d.state === "missed"), ...pending, ...mine.filter((d) => d.state === "met")]) {
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
  return h("td", { class: "status", title: [t("status." + tk.status), tk.assignee || tk.team ? assigneeText(tk) : ""].filter(Boolean).join(" · ") },
    t("status." + tk.status),
    tk.acknowledged_at ? h("span", { class: "badge acked" }, t("control.acked")) : null,
    tk.assignee || tk.team ? h("span", { class: "muted" }, " " + assigneeText(tk)) : null,
    tk.escalation_level > 0 ? h("span", { class: "badge escalated" }, t("control.escalated", { n: tk.escalation_level })) : null,
  );
}

async function act(id: number, body: Record<string, unknown>, msg?: HTMLElement) {
  try {
    const tk = await action(id, body);
    upsert(tk);
    if (msg) msg.textContent = t("control.done");
  } catch (e) {
    const text = errorText(e, tickets.get(id)?.status || "");
    if (msg) msg.textContent = text;
    else window.alert(text);
  }
}

// ackAlarm acknowledges a ticketless alarm once: the button is busy until
// the desk answers (a second click would send a second acknowledgement).
// An alarm already acknowledged or gone (404: another console, or the
// episode ended) is simply redrawn; another refusal is said on the row, not
// in a dialog that would stop the control room's page.
async function ackAlarm(key: string, button: HTMLButtonElement) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    await api("/alarms/ack", { method: "POST", body: JSON.stringify({ key }) });
  } catch (e) {
    if (!(e instanceof APIError && e.status === 404)) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.title = errorText(e);
      button.closest("tr")?.querySelector(".status")?.replaceChildren(h("span", { class: "error", role: "alert" }, errorText(e)));
      return;
    }
  }
  await loadAlarms();
}

function alarmRow(a: GatewayAlarm, now: number): HTMLElement {
  const alert = alarmAlerting(a);
  return h("tr", {
    class: `alarm-row sev-${a.severity}` + (alert ? " flashing" : "") + (a.acknowledged_by ? " acked" : ""),
    "data-alarm": a.key, tabindex: 0,
  },
    h("td", { class: "nowrap" }, h("span", { class: "badge alarm" }, t("control.alarm"))),
    h("td", { class: "nowrap" }, h("span", { class: `badge sev ${a.severity}` }, t("severity." + a.severity))),
    h("td", { class: "what", title: currentLang() === "en" ? a.message_en : a.message_zh }, currentLang() === "en" ? a.message_en : a.message_zh),
    clipCell(location(a)),
    clipCell(a.device),
    clipCell(a.point ? `${a.point} ${reading(a.value)}` : ""),
    h("td", { class: "age nowrap", "data-since": a.since || "" }, a.since ? duration(now - Date.parse(a.since)) : ""),
    h("td", { class: "deadline" }, h("span", { class: "muted" }, t("control.noTicket"))),
    h("td", { class: "status" }, a.acknowledged_by
      ? h("span", { class: "badge acked" }, t("control.ackedBy", { who: person(a.acknowledged_by) }))
      : t(a.state === "cleared" ? "control.clearedWaiting" : "alarm.firing")),
    h("td", { class: "nowrap" }, a.acknowledged_by ? null
      : h("button", { class: "ack", onclick: (ev: Event) => { ev.stopPropagation(); void ackAlarm(a.key, ev.currentTarget as HTMLButtonElement); } }, t("control.ack"))),
  );
}

// nowStrip is the open emergencies at a glance, each with its nearest
// pending deadline counting down, linked to its ticket.
function nowStrip(list: Ticket[], now: number): HTMLElement {
  const open = list.filter((tk) => tk.kind === "emergency");
  if (open.length === 0) return h("div", { id: "now-strip", class: "now-strip calm" }, t("control.nowCalm"));
  return h("div", { id: "now-strip", class: "now-strip" },
    h("strong", {}, t("control.now", { n: open.length })),
    ...open.map((tk) => {
      const due = (tk.deadlines || []).filter((d) => d.state === "pending" && !ownersSteps.includes(d.step)).sort((a, b) => Date.parse(a.due_at) - Date.parse(b.due_at))[0];
      const chip = h("a", { href: `#/tickets/${tk.id}`, class: "now-chip" + (alerting(tk) ? " alert" : ""), "data-ticket": tk.id },
        `#${tk.id} ${titleOf(tk)}`);
      if (due) {
        const cd = h("span", { class: "countdown", "data-due": due.due_at, "data-step": due.step });
        countdownText(cd, now);
        chip.append(" · ", cd);
      }
      return chip;
    }));
}

function draw() {
  const box = root?.querySelector("#incidents-box") as HTMLElement | null;
  if (!box) return;
  const now = Date.now();
  const list = sorted();
  const shown = alarms.filter((a) => !a.ticketed && !a.suppressed);
  shown.sort((a, b) => Number(alarmAlerting(b)) - Number(alarmAlerting(a)) || (a.since || "").localeCompare(b.since || ""));
  const count = root!.querySelector("#incident-count");
  if (count) count.textContent = t("control.count", { n: list.length, a: list.filter(alerting).length, m: shown.length });
  const strip = root!.querySelector("#now-strip");
  if (strip) strip.replaceWith(nowStrip(list, now));
  if (list.length === 0 && shown.length === 0) {
    clear(box, h("p", { class: "empty" }, t("control.empty")));
    return;
  }
  const fresh = list.some((tk) => alerting(tk) && !box.querySelector(`tr[data-ticket="${tk.id}"].flashing`)) ||
    shown.some((a) => alarmAlerting(a) && !box.querySelector(`tr[data-alarm="${CSS.escape(a.key)}"].flashing`));
  if (fresh) window.setTimeout(beep, 0); // a new emergency sounds at once, not at the next tick
  clear(box, h("table", { class: "grid", id: "incidents" },
    h("thead", {}, h("tr", {},
      ...["col.id", "col.kind", "col.title", "col.location", "col.device", "col.reading", "col.age", "col.deadline", "col.status", ""]
        .map((k) => h("th", {}, k ? t(k) : "")))),
    h("tbody", {}, ...shown.filter(alarmAlerting).map((a) => alarmRow(a, now)), ...list.map((tk) =>
      h("tr", {
        class: `kind-${tk.kind}` + (alerting(tk) ? " flashing" : "") + (tk.acknowledged_at ? " acked" : "") + (tk.id === selected ? " selected" : ""),
        "data-ticket": tk.id, tabindex: 0, "aria-selected": tk.id === selected ? "true" : "false",
        onclick: () => select(tk.id),
        onkeydown: (ev: KeyboardEvent) => { if (ev.key === "Enter" && ev.target === ev.currentTarget) select(tk.id); },
      },
        h("td", { class: "nowrap" }, h("a", { href: `#/tickets/${tk.id}`, class: "ticket-link", onclick: (ev: Event) => ev.stopPropagation() }, "#" + tk.id)),
        h("td", { class: "clip", title: t("kind." + tk.kind) }, h("span", { class: `badge ${tk.kind}` }, t("kind." + tk.kind))),
        h("td", { class: "what", title: titleOf(tk) }, titleOf(tk)),
        clipCell(location(tk)),
        clipCell(tk.device || ""),
        clipCell(tk.reading ? `${tk.reading.point} ${reading(tk.reading.value)} ${tk.reading.unit || ""}` : ""),
        h("td", { class: "age nowrap", "data-since": tk.created_at }, duration(now - Date.parse(tk.created_at))),
        deadlineCell(tk, now),
        statusCell(tk),
        h("td", { class: "nowrap" }, !tk.acknowledged_at && (tk.status === "new" || tk.status === "dispatched")
          ? h("button", { class: "ack", onclick: (ev: Event) => { ev.stopPropagation(); void act(tk.id, { action: "acknowledge" }); } }, t("control.ack"))
          : null),
      )), ...shown.filter((a) => !alarmAlerting(a)).map((a) => alarmRow(a, now))),
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
  const assignee = h("select", { name: "assignee" }, h("option", { value: "" }, "—"),
    ...staff().map((s) => h("option", { value: s.name, selected: s.name === tk.assignee }, `${s.display_name || s.name}${s.team ? " · " + t("team." + s.team) : ""}`))) as HTMLSelectElement;
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
    h("h3", {}, h("a", { href: `#/tickets/${tk.id}`, id: "panel-open" }, `#${tk.id} ${titleOf(tk)}`),
      h("button", { type: "button", class: "ghost", "aria-label": t("control.closePanel"), onclick: () => select(null) }, "×")),
    dispatch, noteForm, msg, comments));
  await loadComments(tk.id, comments);
}

async function loadComments(id: number, ul: HTMLElement) {
  const { comments } = await api<{ comments: { author: string; at: string; body: string }[] }>(`/tickets/${id}/comments`);
  clear(ul, ...(comments || []).map((c) => h("li", {}, h("small", {}, `${when(c.at, defaultZone, true)} ${person(c.author)}: `), c.body)));
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

// loadAlarms reads the gateways' alarms (they come with the heartbeats, so
// they are polled rather than streamed).
async function loadAlarms() {
  const { alarms: list } = await api<{ alarms: GatewayAlarm[] }>("/alarms?suppressed=false");
  alarms = list || [];
  draw();
}

function pollAlarms() {
  const gen = generation;
  void loadAlarms().catch(() => { /* the connection indicator tells */ }).finally(() => {
    if (root && gen === generation) alarmPoll = window.setTimeout(pollAlarms, 2000);
  });
}

function tick() {
  ticks++;
  const now = Date.now();
  root?.querySelectorAll<HTMLElement>("#incidents .countdown, #now-strip .countdown").forEach((el) => countdownText(el, now));
  root?.querySelectorAll<HTMLElement>("#incidents .age").forEach((el) => {
    if (el.dataset.since) el.textContent = duration(now - Date.parse(el.dataset.since));
  });
  if (ticks % 2 === 1 && ([...tickets.values()].some(alerting) || alarms.some((a) => !a.ticketed && !a.suppressed && alarmAlerting(a)))) beep();
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
      h("div", { id: "now-strip" }),
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
    await Promise.all([loadAll(), loadAlarms().catch(() => { /* polled again below */ })]);
    ticker = window.setInterval(tick, 1000);
    alarmPoll = window.setTimeout(pollAlarms, 2000);
  },
  leave() {
    unsubscribe.forEach((u) => u());
    unsubscribe = [];
    window.clearInterval(ticker);
    window.clearTimeout(alarmPoll);
    generation++;
    root = null;
    selected = null;
  },
};
