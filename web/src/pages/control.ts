// 中控室: open incidents, emergencies first, flashing with a sound until
// acknowledged, with deadline countdowns.
import { api, openStatuses, Ticket } from "../api";
import { clear, h, location } from "../dom";
import { duration, t } from "../i18n";
import { Page } from "../page";

// Default deadlines of DESIGN.md §2 (minutes), used until a ticket carries its own.
const deadlines: Record<string, [string, number][]> = {
  emergency: [["control.ackDue", 1], ["control.siteDue", 5]],
  repair: [["control.ackDue", 10], ["control.siteDue", 15]],
};

let soundOn = localStorage.getItem("estate.sound") !== "off";
let audio: AudioContext | null = null;

function beep() {
  if (!soundOn) return;
  audio = audio || new AudioContext();
  const o = audio.createOscillator();
  const g = audio.createGain();
  o.frequency.value = 880;
  g.gain.value = 0.2;
  o.connect(g).connect(audio.destination);
  o.start();
  o.stop(audio.currentTime + 0.25);
}

function deadlineCell(tk: Ticket, now: number): HTMLElement {
  const cell = h("td", { class: "deadline" });
  if (tk.status !== "new") return cell;
  for (const [label, minutes] of deadlines[tk.kind] || []) {
    const left = Date.parse(tk.created_at) + minutes * 60000 - now;
    cell.append(
      h("div", { class: left < 0 ? "overdue" : "" },
        left < 0 ? t("control.overdue", { d: duration(-left) }) : `${t(label)} ${duration(left)}`),
    );
  }
  return cell;
}

export const controlPage: Page = {
  route: "control",
  nav: "nav.control",
  roles: ["admin", "control_room", "engineer"],
  refreshMs: 2000,
  async render(root: HTMLElement) {
    const { tickets } = await api<{ tickets: Ticket[] }>("/tickets?limit=500");
    const open = tickets
      .filter((tk) => openStatuses.has(tk.status) && tk.kind !== "top_up")
      .sort((a, b) => a.priority.localeCompare(b.priority) || Date.parse(b.created_at) - Date.parse(a.created_at));
    const now = Date.now();
    const alerting = open.filter((tk) => tk.kind === "emergency" && tk.status === "new");
    if (alerting.length > 0) beep();
    const soundToggle = h("button", {
      class: "ghost",
      onclick: () => {
        soundOn = !soundOn;
        localStorage.setItem("estate.sound", soundOn ? "on" : "off");
        soundToggle.textContent = `${t("control.sound")}: ${t(soundOn ? "control.soundOn" : "control.soundOff")}`;
      },
    }, `${t("control.sound")}: ${t(soundOn ? "control.soundOn" : "control.soundOff")}`);
    clear(root,
      h("div", { class: "page-head" }, h("h2", {}, t("control.title")), soundToggle),
      open.length === 0
        ? h("p", { class: "empty" }, t("control.empty"))
        : h("table", { class: "grid", id: "incidents" },
            h("thead", {}, h("tr", {},
              ...["col.id", "col.kind", "col.title", "col.location", "col.device", "col.reading", "col.age", "col.deadline", "col.status"]
                .map((k) => h("th", {}, t(k))))),
            h("tbody", {}, ...open.map((tk) =>
              h("tr", {
                class: `kind-${tk.kind}` + (tk.kind === "emergency" && tk.status === "new" ? " flashing" : ""),
                "data-ticket": tk.id,
              },
                h("td", {}, "#" + tk.id),
                h("td", {}, h("span", { class: `badge ${tk.kind}` }, t("kind." + tk.kind))),
                h("td", {}, tk.title),
                h("td", {}, location(tk)),
                h("td", {}, tk.device || ""),
                h("td", {}, tk.reading ? `${tk.reading.point} ${tk.reading.value.toFixed(2)} ${tk.reading.unit || ""}` : ""),
                h("td", {}, duration(now - Date.parse(tk.created_at))),
                deadlineCell(tk, now),
                h("td", {}, t("status." + tk.status)),
              ))),
          ),
    );
  },
};
