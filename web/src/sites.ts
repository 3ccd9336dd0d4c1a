// Sites by name (GET /sites): the consoles say 演示花园, not demo-estate.
// Read once per sign-in; a site the desk does not name is shown by its id.
import { api } from "./api";

export interface SiteView { id: string; name: string; timezone: string }

let sites: SiteView[] = [];

export async function loadSites(): Promise<SiteView[]> {
  sites = await api<{ sites: SiteView[] }>("/sites").then((r) => r.sites || []).catch(() => []);
  return sites;
}

export function siteName(id: string): string {
  return sites.find((s) => s.id === id)?.name || id;
}

// siteZone is the site's time zone, for times shown on pages that know
// their site (a device's readings, its alarms, its chart).
export function siteZone(id: string): string {
  return sites.find((s) => s.id === id)?.timezone || "Asia/Shanghai";
}
