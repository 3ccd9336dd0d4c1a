import { t } from "./i18n";

// A tiny element builder: h("td", {class: "x"}, "text", child).
type Child = Node | string | number | null | undefined | false;

export function h(tag: string, attrs: Record<string, any> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el: HTMLElement, ...children: Child[]) {
  el.replaceChildren();
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// location is where a device or ticket is, in the UI's words (1栋 B1层 1-101,
// Bldg 1 Fl. B1 1-101), as the ticket page says it.
export function location(l: { building?: string; unit?: string; floor?: string }): string {
  return [l.building && t("loc.building", { b: l.building }), l.floor && t("loc.floor", { f: l.floor }), l.unit].filter(Boolean).join(" ");
}

// reading renders a device reading for people: two decimals, cut rather than
// rounded (as the gateway's alarm texts do), so that 9.9996 below a threshold
// of 10 shows as 9.99, not 10.00.
export function reading(v: number): string {
  return (Math.floor(v * 100) / 100).toFixed(2);
}

// busy marks el aria-busy while fn refreshes it (a request, then a redraw), so
// that assistive technology, and the browser test, wait for the new content
// rather than read a section between its request and its redraw.
export async function busy<T>(el: HTMLElement, fn: () => Promise<T>): Promise<T> {
  el.setAttribute("aria-busy", "true");
  try {
    return await fn();
  } finally {
    el.removeAttribute("aria-busy");
  }
}
