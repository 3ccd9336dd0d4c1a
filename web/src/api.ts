// The desk API, with the bearer token kept for this browser tab only.
import type { PointMeta } from "./format";

export class APIError extends Error {
  constructor(public status: number, message: string, public hint = "", public field = "", public allowed: string[] = []) {
    super(message);
  }
}

export function token(): string {
  return sessionStorage.getItem("estate.token") || "";
}

export function setToken(tok: string) {
  if (tok) sessionStorage.setItem("estate.token", tok);
  else sessionStorage.removeItem("estate.token");
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set("Authorization", "Bearer " + token());
  if (init.body) headers.set("Content-Type", "application/json");
  const resp = await fetch("/api/v1" + path, { ...init, headers });
  if (!resp.ok) {
    let msg = resp.statusText;
    let hint = "";
    let field = "";
    let allowed: string[] = [];
    try {
      const body = await resp.json();
      msg = body.error || msg;
      hint = body.hint || "";
      field = body.field || "";
      allowed = body.allowed || [];
    } catch {
      /* not JSON: keep the status text */
    }
    throw new APIError(resp.status, msg, hint, field, allowed);
  }
  if (resp.status === 204) return undefined as T;
  return (await resp.json()) as T;
}

export interface Reading {
  point: string;
  value: number;
  unit?: string;
  at: string;
}

export interface Deadline {
  step: string;
  due_at: string;
  state: "pending" | "met" | "missed" | "withdrawn";
  met_at?: string;
  missed_at?: string;
}

export interface Ticket {
  id: number;
  kind: string;
  sub_kind?: string;
  parent_id?: number;
  collective_at?: string;
  priority: string;
  status: string;
  title: string;
  title_en?: string; // an alarm's rule's English title (titleOf in format.ts)
  description?: string;
  description_en?: string; // an alarm's description in English (descriptionOf in format.ts)
  site: string;
  building?: string;
  floor?: string;
  unit?: string;
  device?: string;
  alarm_key?: string;
  source: string;
  reading?: Reading;
  created_at: string;
  updated_at: string;
  reporter?: string;
  phone?: string;
  assignee?: string;
  team?: string;
  resolution?: string;
  cause?: string;
  parts?: string;
  charge_cents?: number;
  follow_up_note?: string;
  contact?: string;
  category?: string;
  created_by?: string;
  appointment_at?: string;
  dispatched_at?: string;
  on_site_at?: string;
  followed_up_at?: string;
  closed_at?: string;
  cancelled_at?: string;
  satisfaction?: number;
  escalation_level: number;
  acknowledged_at?: string;
  resolved_at?: string;
  deadlines?: Deadline[];
  owner?: string;
  reply_note?: string;
  replied_at?: string;
  reply_committed_at?: string;
}

// TicketDetail is GET /tickets/{id}: the ticket with what its lifecycle
// allows now, its site's name and zone, and its console link.
export interface TicketDetail extends Ticket {
  allowed_actions: string[];
  site_name: string;
  site_timezone: string;
  link?: string;
  needs_incident?: boolean;
  reading_point?: PointMeta;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  from: string;
  to: string;
  note?: string;
}

export interface Comment {
  at: string;
  author: string;
  kind: string;
  body: string;
}

// GatewayAlarm is one alarm from the gateways' heartbeats (GET /alarms).
export interface GatewayAlarm {
  key: string;
  rule: string;
  device: string;
  building?: string;
  unit?: string;
  source?: string;
  point?: string;
  value: number;
  state: string;
  severity: string;
  since?: string;
  suppressed?: string;
  ticketed: boolean;
  message_zh: string;
  message_en: string;
  site: string;
  gateway: string;
  stale: boolean;
  acknowledged_by?: string;
  acknowledged_at?: string;
}

export interface Reminder {
  at: string;
  by: string;
  channel: string;
  /** reached, no_answer, promised, refused */
  outcome?: string;
  answer?: string;
}

export interface TopUp {
  ticket_id: number;
  site: string;
  building?: string;
  unit?: string;
  device?: string;
  /** the meter's family: meter (electricity) or water */
  category?: string;
  status: string;
  balance?: number;
  red_since: string;
  days_red: number;
  resident?: string;
  phone?: string;
  contact?: string;
  reminders: number;
  last_reminder?: Reminder;
  /** the newest balance reading and when it was taken; absent: no reading */
  balance_now?: number;
  reading_at?: string;
  /** "off": relay tripped (valve shut); "on"; absent: unknown */
  supply?: "on" | "off";
}

export interface Durations {
  count: number;
  p50_seconds: number;
  p95_seconds: number;
}

export interface Report {
  site: string;
  from: string;
  to: string;
  tickets: number;
  by_kind: Record<string, number>;
  by_category: Record<string, number>;
  by_cause: Record<string, number>;
  complaints: number;
  deadlines: { step: string; met: number; missed: number; pending: number; share: number }[] | null;
  to_dispatch: Durations;
  to_on_site: Durations;
  to_resolve: Durations;
  resolved: number;
  followed_up: number;
  follow_up_rate: number;
  complaint_follow_up_rate: number;
  satisfaction_count: number;
  satisfaction_mean: number;
  households?: number;
  households_followed_up?: number;
  targets?: { name: string; step?: string; value: number | null; target: number; op: string; met: boolean | null; num: number; den: number }[];
}

export interface Me {
  name: string;
  role: string;
  site: string;
  display_name?: string;
  team?: string;
}

// login exchanges a staff name and password for a session token.
export async function login(name: string, password: string): Promise<string> {
  const resp = await fetch("/api/v1/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name, password }),
  });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) throw new APIError(resp.status, body.error || resp.statusText, body.hint || "");
  return body.token as string;
}

// action applies one lifecycle action to a ticket and returns the ticket.
export function action(id: number, body: Record<string, unknown>): Promise<Ticket> {
  return api<Ticket>(`/tickets/${id}/actions`, { method: "POST", body: JSON.stringify(body) });
}

// download fetches a file with the bearer header (a plain link cannot send
// it) and hands it to the browser as a download.
export async function download(path: string, filename: string) {
  const resp = await fetch("/api/v1" + path, { headers: { Authorization: "Bearer " + token() } });
  if (!resp.ok) throw new APIError(resp.status, resp.statusText);
  const url = URL.createObjectURL(await resp.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export interface Device {
  id: string;
  family: string;
  model?: string;
  building?: string;
  floor?: string;
  unit?: string;
  state: string;
  last_seen?: string;
  consecutive_failures: number;
  polls: number;
  errors: number;
  last_error?: string;
  site: string;
  gateway: string;
  stale: boolean;
}

export interface Gateway {
  gateway: string;
  site: string;
  received_at: string;
  stale: boolean;
  devices: number;
  offline: number;
  telemetry_backlog: number;
  outbox_pending: number;
}

export const openStatuses = new Set(["new", "dispatched", "on_site", "resolved", "followed_up"]);

// Kinds is GET /kinds: the kinds with their sub-kinds and deadlines, and the
// complaint categories of a site.
export interface Kinds {
  site: string;
  kinds: { kind: string; priority: string; sub_kinds?: string[]; deadlines: Record<string, string> }[];
  complaint_categories: string[];
}
