// Keyboard use of every list (issue 13 part 9): rows and cards that stand for
// a ticket or a device can be reached with Tab, moved between with the arrow
// keys (Home, End for the first and the last), and opened with Enter, as a
// click would. Pages draw their rows as before; this module makes them
// focusable as they appear, so that every list, present and future, behaves
// the same without each page repeating it.
import { t } from "./i18n";
import "./i18n_more";

// Rows that open something: a ticket's, a device's, an alarm's.
const rowSelector = "tbody tr[data-ticket], tbody tr[data-device], tbody tr[data-alarm], article[data-ticket]";

function prepare(root: ParentNode) {
  for (const el of root.querySelectorAll<HTMLElement>(rowSelector)) {
    if (el.hasAttribute("tabindex")) continue;
    el.tabIndex = 0;
    if (el.dataset.ticket && el.tagName === "TR") el.setAttribute("aria-description", t("a11y.rowOpen", { id: el.dataset.ticket }));
  }
}

// open does what a click on the row does: the page's own handler if the row
// has one (the control room selects), else its first link.
function open(row: HTMLElement) {
  const link = row.querySelector<HTMLAnchorElement>("a[href^='#/']");
  if (link && !row.closest("#incidents")) link.click();
  else row.click();
}

function siblings(row: HTMLElement): HTMLElement[] {
  const parent = row.parentElement;
  return parent ? [...parent.children].filter((c): c is HTMLElement => c instanceof HTMLElement && c.matches(rowSelector)) : [];
}

// keyOf names a row across redraws: lists redraw from the event stream (the
// control room every second, for its countdowns), which replaces the row
// that had the focus; the focus follows to its successor.
function keyOf(el: HTMLElement): string {
  const d = el.dataset;
  return `${el.tagName}|${d.ticket || ""}|${d.device || ""}|${d.alarm || ""}`;
}

export function installKeyboard(doc: Document = document) {
  prepare(doc);
  let focused = "";
  doc.addEventListener("focusin", (ev) => {
    const el = ev.target instanceof HTMLElement ? ev.target : null;
    focused = el && el.matches(rowSelector) ? keyOf(el) : "";
  });
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) if (n instanceof HTMLElement) {
      if (n.matches(rowSelector) || n.querySelector(rowSelector)) prepare(n.parentElement || n);
    }
    if (focused && (doc.activeElement === doc.body || doc.activeElement === null)) {
      const again = [...doc.querySelectorAll<HTMLElement>(rowSelector)].find((el) => keyOf(el) === focused);
      again?.focus({ preventScroll: true });
    }
  }).observe(doc.body, { childList: true, subtree: true });
  doc.addEventListener("keydown", (ev) => {
    const row = ev.target instanceof HTMLElement ? ev.target : null;
    if (!row || !row.matches(rowSelector) || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    // Keys typed into a field or a button inside the row are theirs.
    const rows = siblings(row);
    const i = rows.indexOf(row);
    let next: HTMLElement | undefined;
    switch (ev.key) {
      case "Enter":
        // The control room's rows handle Enter themselves (they select).
        if (!row.closest("#incidents")) open(row);
        ev.preventDefault();
        return;
      case "ArrowDown": next = rows[i + 1]; break;
      case "ArrowUp": next = rows[i - 1]; break;
      case "Home": next = rows[0]; break;
      case "End": next = rows[rows.length - 1]; break;
      default: return;
    }
    ev.preventDefault();
    next?.focus();
  });
}
