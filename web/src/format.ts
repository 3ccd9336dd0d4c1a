// Formatting shared by the ticket pages: times in the site's zone, the desk's
// refusals as plain sentences in the UI's language, people by display name,
// and the local-time inputs of forms read in the site's zone.
import { APIError } from "./api";
import { currentLang, t } from "./i18n";

// The site's zone when a page knows it (the ticket detail carries it), else
// Asia/Shanghai, the zone of the desk's users.
export const defaultZone = "Asia/Shanghai";

// when shows a time in the site's zone: "12-03 21:34" (with the year when it
// is not this year's), for the staff and the printout alike.
export function when(iso: string | undefined, zone = defaultZone, withSeconds = false): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const parts = zoned(d, zone);
  const thisYear = String(new Date().getUTCFullYear());
  const date = `${parts.year !== thisYear ? parts.year + "-" : ""}${parts.month}-${parts.day}`;
  return `${date} ${parts.hour}:${parts.minute}${withSeconds ? ":" + parts.second : ""}`;
}

interface Parts { year: string; month: string; day: string; hour: string; minute: string; second: string }

// One formatter per zone: making one is far slower than using it, and a
// long audit trail formats thousands of times.
const formatters = new Map<string, Intl.DateTimeFormat>();

function zoned(d: Date, zone: string): Parts {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
    });
    formatters.set(zone, f);
  }
  const out: Record<string, string> = {};
  for (const p of f.formatToParts(d)) out[p.type] = p.value;
  return out as unknown as Parts;
}

// zoneOffsetMs is how far the zone's wall clock is ahead of UTC at instant ms.
function zoneOffsetMs(ms: number, zone: string): number {
  const p = zoned(new Date(ms), zone);
  const wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

// fromLocalInput reads a datetime-local value ("2026-12-03T14:30") as a wall
// time of the site's zone and returns it in RFC 3339 (UTC), or "" if empty.
export function fromLocalInput(value: string, zone = defaultZone): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!m) return "";
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
  // Two passes settle the offset across a change of the zone's rules.
  let ms = wall - zoneOffsetMs(wall, zone);
  ms = wall - zoneOffsetMs(ms, zone);
  return new Date(ms).toISOString();
}

// toLocalInput is the reverse: an instant as a datetime-local value in the zone.
export function toLocalInput(iso: string, zone = defaultZone): string {
  const p = zoned(new Date(iso), zone);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

// The staff directory (GET /staff), read once per sign-in, for display names.
export interface StaffMember { name: string; display_name: string; role: string; team?: string }
let staffList: StaffMember[] = [];

export function setStaff(list: StaffMember[]) {
  staffList = list;
}

export function staff(): StaffMember[] {
  return staffList;
}

// person is a login name as people know it: 李工 rather than engineer.
export function person(name: string | undefined): string {
  if (!name) return "";
  return staffList.find((s) => s.name === name)?.display_name || name;
}

// assigneeText is who a ticket is dispatched to: the person, and the team.
export function assigneeText(tk: { assignee?: string; team?: string }): string {
  return [tk.assignee && person(tk.assignee), tk.team && t("team." + tk.team)].filter(Boolean).join(" · ");
}

// yuan shows fen as yuan: 1500 → "15.00 元" / "¥15.00".
export function yuan(cents: number | undefined): string {
  if (!cents) return "";
  const v = (cents / 100).toFixed(2);
  return currentLang() === "en" ? `¥${v}` : `${v} 元`;
}

// errorText turns a refusal of the desk into a sentence in the UI's
// language: a forbidden step of the lifecycle says what may be done instead,
// a missing field names it; the desk's own English text is the last resort.
export function errorText(e: unknown, status = ""): string {
  if (!(e instanceof APIError)) return t("err.network");
  switch (e.status) {
    case 409:
      // An emergency closed before its incident report is approved (owner.ts).
      if (e.field === "incident_report") return t("inc.needed");
      // A lifecycle refusal: the ticket moved on (another console) or the
      // step does not fit its status; say what can be done now.
      if (e.allowed.length > 0) {
        return t("err.conflict", { allowed: e.allowed.map((a) => t("action." + a)).join(t("list.sep")) });
      }
      if (/allowed: none/.test(e.message) || status) return t("err.conflictNone");
      return t("err.conflictOther", { msg: e.message });
    case 422:
      return e.field ? t("err.field", { field: t("field." + e.field), msg: e.message }) : t("err.invalid", { msg: e.message });
    case 403:
      return t("err.notAllowed");
    case 404:
      return t("err.notFound");
    case 401:
      return t("err.signedOut");
    default:
      return t("err.other", { status: e.status, msg: e.message });
  }
}

// PointMeta is how people call a point (devices/points on the desk): its
// names, its unit, its decimals and the words for its states.
export interface PointMeta {
  label: string; label_en: string; unit?: string; decimals?: number;
  states?: Record<string, { zh: string; en: string }>;
}

// pointLabel is the point's name in the UI's language (the point's own
// name when the desk has none for it).
export function pointLabel(meta: PointMeta | undefined, name: string): string {
  if (!meta) return name;
  return (currentLang() === "en" ? meta.label_en : meta.label) || name;
}

// unitText is a unit as people write it: 元 in Chinese for CNY.
export function unitText(unit: string | undefined): string {
  if (!unit) return "";
  if (unit === "CNY") return currentLang() === "en" ? "CNY" : "元";
  return unit;
}

// pointValue is a reading as people read it: the state's word for a state
// point (继电器 跳闸), else the number with the point's decimals (cut, not
// rounded, as the alarm texts do) and its unit.
export function pointValue(meta: PointMeta | undefined, v: number): string {
  const state = meta?.states?.[String(v)];
  if (state) return currentLang() === "en" ? state.en : state.zh;
  const d = meta?.decimals ?? 2;
  const f = 10 ** d;
  const n = (Math.trunc(v * f) / f).toFixed(d);
  const u = unitText(meta?.unit);
  return u ? `${n} ${u}` : n;
}


// titleOf is a ticket's title in the UI's language: an alarm's English
// title in the English console, else the title as written.
export function titleOf(tk: { title: string; title_en?: string }): string {
  return (currentLang() === "en" && tk.title_en) || tk.title;
}

// descriptionOf is a ticket's description in the UI's language: an alarm's
// ticket has one in each (description, description_en), each shown alone;
// one typed by people has its one description, shown in both. A ticket with
// only an English one (an API client's) shows it in Chinese too.
export function descriptionOf(tk: { description?: string; description_en?: string }): string {
  return (currentLang() === "en" ? tk.description_en || tk.description : tk.description || tk.description_en) || "";
}
