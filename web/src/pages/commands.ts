// 设备指令: commands to devices (relay trip or close, valve open or close, a
// Modbus write), requested by engineers, approved or rejected by managers
// (or approved by a site's rule), delivered to the device's gateway with its
// next heartbeat; the outcome (done, refused by the device, timed out) and
// every step of the audit are shown here.
import { api, Device, Me } from "../api";
import { busy, clear, h } from "../dom";
import { events } from "../events";
import { errorText, person, when } from "../format";
import { t } from "../i18n";
import { Page } from "../page";


interface Step { at: string; actor: string; step: string; note?: string }

interface Command {
  id: number; site: string; gateway: string; device: string; action: string; point?: string; value: number;
  reason: string; status: string; requested_by: string; requested_at: string; approved_by?: string; approved_at?: string;
  outcome?: string; detail?: string; audit?: Step[];
}

// actionsFor are the commands a device's controls allow.
function actionsFor(controls: string[] | undefined): { action: string; point?: string }[] {
  const out: { action: string; point?: string }[] = [];
  for (const c of controls || []) {
    if (c === "relay") out.push({ action: "relay_trip" }, { action: "relay_close" });
    else if (c === "valve") out.push({ action: "valve_open" }, { action: "valve_close" });
    else if (c.startsWith("write:")) out.push({ action: "modbus_write", point: c.slice(6) });
  }
  return out;
}

const actor = (name: string) => name.startsWith("gateway:") ? name : name.startsWith("rule:") ? name : person(name);
const describe = (c: Command) => t("cmd.act." + c.action) + (c.point ? ` ${c.point} = ${c.value}` : "");

function requestForm(devs: (Device & { controls?: string[] })[], onDone: () => Promise<void>): HTMLElement {
  const commandable = devs.filter((d) => actionsFor(d.controls).length > 0);
  const device = h("select", { id: "cmd-device" }, ...commandable.map((d) => h("option", { value: d.id }, `${d.id}${d.unit ? " · " + d.unit : ""}`))) as HTMLSelectElement;
  const action = h("select", { id: "cmd-action" }) as HTMLSelectElement;
  const value = h("input", { id: "cmd-value", type: "number", step: "any", value: "0" }) as HTMLInputElement;
  const reason = h("input", { id: "cmd-reason", required: true, maxlength: 500 }) as HTMLInputElement;
  const msg = h("p", { class: "msg error", id: "cmd-msg", role: "alert" });
  const fill = () => {
    const d = commandable.find((x) => x.id === device.value);
    clear(action, ...actionsFor(d?.controls).map((a) => h("option", { value: JSON.stringify(a) }, t("cmd.act." + a.action) + (a.point ? ` ${a.point}` : ""))));
  };
  device.addEventListener("change", fill);
  fill();
  const form = h("form", { class: "card form-grid", id: "cmd-form" },
    h("h3", {}, t("cmd.request")),
    commandable.length === 0 ? h("p", { class: "empty" }, t("cmd.noControls")) : null,
    h("label", {}, t("cmd.device"), device),
    h("label", {}, t("cmd.action"), action),
    h("label", {}, t("cmd.value"), value),
    h("label", {}, t("cmd.reason"), reason),
    h("button", { type: "submit", disabled: commandable.length === 0 }, t("cmd.submit")), msg);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const a = JSON.parse(action.value || "{}") as { action: string; point?: string };
    try {
      await api<Command>("/commands", { method: "POST", body: JSON.stringify({
        device: device.value, action: a.action, point: a.point, value: a.point ? Number(value.value) : undefined, reason: reason.value.trim() }) });
      await onDone();
    } catch (e) {
      msg.textContent = errorText(e);
    }
  });
  return form;
}

// draw is the page: the list of commands, then the request form. The list
// is redrawn by itself (listTable) when a command moves on, so what is being
// typed into the form stays.
async function draw(root: HTMLElement, me: Me) {
  const { devices } = await api<{ devices: (Device & { controls?: string[] })[] }>("/devices");
  const box = h("div", { id: "cmd-list-box" });
  await listTable(box, me);
  clear(root,
    h("div", { class: "page-head" }, h("h2", {}, t("cmd.title"))),
    box,
    ["admin", "manager", "engineer"].includes(me.role) ? requestForm(devices, () => listTable(box, me)) : null);
  let running = false;
  let again = false;
  const run = async (): Promise<void> => {
    if (running) { again = true; return; }
    running = true;
    try { await busy(box, () => listTable(box, me)); } catch { /* the next event retries */ } finally { running = false; }
    if (again) { again = false; return run(); }
  };
  unsubscribe.push(events.on((e) => { if (e.type.startsWith("command.")) void run(); }));
}

let unsubscribe: (() => void)[] = [];

async function listTable(root: HTMLElement, me: Me) {
  const { commands } = await api<{ commands: Command[] }>("/commands");
  const details = await Promise.all(commands.slice(0, 50).map((c) => api<Command>(`/commands/${c.id}`)));
  const manager = ["admin", "manager"].includes(me.role);
  const msg = h("p", { class: "msg error", id: "cmd-decide-msg", role: "alert" });
  const decide = (c: Command, what: string) => async () => {
    try {
      await api<Command>(`/commands/${c.id}/${what}`, { method: "POST" });
      await listTable(root, me);
    } catch (e) {
      msg.textContent = t("cmd.bad", { msg: errorText(e) });
    }
  };
  clear(root,
    msg,
    details.length === 0 ? h("p", { class: "empty" }, t("cmd.empty")) :
      h("table", { class: "grid", id: "cmd-list" },
        h("thead", {}, h("tr", {}, ...["#", "cmd.device", "cmd.action", "cmd.reason", "cmd.status", "cmd.audit", ""].map((k) => h("th", {}, k.startsWith("cmd.") ? t(k) : k)))),
        h("tbody", {}, ...details.map((c) => h("tr", { "data-command": c.id, class: "cmd-" + c.status },
          h("td", {}, `#${c.id}`),
          h("td", {}, c.device),
          h("td", {}, describe(c)),
          h("td", {}, c.reason),
          h("td", {}, h("span", { class: `badge cmd-status st-${c.status}` }, t("cmd.st." + c.status)), c.detail ? h("small", { class: "muted block" }, c.detail) : null),
          h("td", {}, h("ol", { class: "audit compact" }, ...(c.audit || []).map((s) =>
            h("li", {}, `${when(s.at, undefined, true)} ${t("cmd.step." + s.step)} · ${actor(s.actor)}${s.note ? " · " + s.note : ""}`)))),
          h("td", {}, manager && c.status === "requested" && c.requested_by !== me.name ? h("span", { class: "actions" },
            h("button", { type: "button", class: "cmd-approve", onclick: decide(c, "approve") }, t("cmd.approve")),
            h("button", { type: "button", class: "ghost cmd-reject", onclick: decide(c, "reject") }, t("cmd.reject"))) : null))))));
}

export const commandsPage: Page = {
  route: "commands",
  nav: "nav.commands",
  roles: ["admin", "manager", "engineer", "control_room", "assistant"],
  async render(root) {
    commandsPage.leave?.();
    await draw(root, await api<Me>("/me"));
  },
  leave() {
    unsubscribe.forEach((u) => u());
    unsubscribe = [];
  },
};
