// Small SVG bar charts for the reports page (no library needed for bars).
const svgNS = "http://www.w3.org/2000/svg";

function el(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const e = document.createElementNS(svgNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

export interface Bar {
  label: string;
  value: number;
  text?: string; // shown after the bar; the value when empty
  colour?: string;
}

// bars draws horizontal bars scaled to max (the largest value when omitted).
export function bars(id: string, data: Bar[], max?: number): SVGElement {
  const rowH = 26;
  // The label column fits the longest label (a CJK character is about 12 px
  // at 12 px, a Latin one about 7), within 90..240 px; longer ones are
  // shortened with "…" and given in full as the bar's title.
  const textW = (s: string) => [...s].reduce((n, c) => n + (/[\u2E80-\uFFEF]/.test(c) ? 12 : 7), 0);
  const labelW = Math.min(240, Math.max(90, ...data.map((d) => textW(d.label) + 12)));
  // About the width of a report card, so that the text is drawn near its own size.
  const width = 420 + Math.max(0, labelW - 130);
  const fit = (s: string) => {
    if (textW(s) + 12 <= labelW) return s;
    let out = "";
    for (const c of s) {
      if (textW(out + c + "…") + 12 > labelW) break;
      out += c;
    }
    return out + "…";
  };
  const top = Math.max(max ?? 0, ...data.map((d) => d.value), 1e-9);
  const svg = el("svg", { id, class: "bars", viewBox: `0 0 ${width} ${Math.max(1, data.length) * rowH}`, width: "100%", role: "img",
    "aria-label": data.map((d) => `${d.label}: ${d.text ?? d.value}`).join("; ") });
  data.forEach((d, i) => {
    const y = i * rowH;
    const w = Math.max(0, (d.value / top) * (width - labelW - 90));
    const label = el("text", { x: labelW - 6, y: y + 17, "text-anchor": "end", class: "bar-label" }, fit(d.label));
    label.append(el("title", {}, d.label));
    svg.append(
      label,
      el("rect", { x: labelW, y: y + 4, width: w, height: rowH - 8, rx: 3, fill: d.colour || "#1677ff", "data-value": d.value }),
      el("text", { x: labelW + w + 6, y: y + 17, class: "bar-value" }, d.text ?? String(d.value)),
    );
  });
  return svg;
}
