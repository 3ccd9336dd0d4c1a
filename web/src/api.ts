// The desk API, with the bearer token kept for this browser tab only.
export class APIError extends Error {
  constructor(public status: number, message: string, public hint = "") {
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
    try {
      const body = await resp.json();
      msg = body.error || msg;
      hint = body.hint || "";
    } catch {
      /* not JSON: keep the status text */
    }
    throw new APIError(resp.status, msg, hint);
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

export interface Ticket {
  id: number;
  kind: string;
  priority: string;
  status: string;
  title: string;
  description?: string;
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
}

export interface Me {
  name: string;
  role: string;
  site: string;
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
