// Strings of issue 13 parts 5-9 (the red-meter list now, reports, sites by
// name, accessibility), merged into the catalogues of i18n.ts when this
// module loads (app.ts imports it first), so that they stay one block.
import { catalogues, currentLang, t } from "./i18n";

const zh: Record<string, string> = {
  "rel.ago": "{d}前",
  "asst.powerOff": "已断电",
  "asst.waterOff": "已停水",
  "asst.atCreation": "开单时",
  "asst.readAt": "读数 {ago}",
  "asst.note": "住户怎么说",
  "asst.outcome": "结果",
  "asst.remindVia": "记录提醒",
  "asst.daysRed": "{n} 天",
  "asst.reminderCount": "共 {n} 次",
  "outcome.": "未选结果",
  "outcome.reached": "已联系上",
  "outcome.no_answer": "无人接听",
  "outcome.promised": "答应充值",
  "outcome.refused": "拒绝",
  "rep.siteAll": "请选择项目",
  "rep.noneToCount": "本月无可统计",
  "a11y.nav": "主导航",
  "nav.more": "更多",
  "a11y.rowOpen": "打开工单 #{id}",
  "a11y.redMeters": "红字电表、水表住户列表",
  "a11y.board": "工单看板",
  "a11y.reminderFor": "{unit} 的提醒",
};

const en: Record<string, string> = {
  "rel.ago": "{d} ago",
  "asst.powerOff": "Power cut",
  "asst.waterOff": "Water cut",
  "asst.atCreation": "at creation",
  "asst.readAt": "read {ago}",
  "asst.note": "What the resident said",
  "asst.outcome": "Outcome",
  "asst.remindVia": "Record a reminder",
  "asst.daysRed": "{n} {n|day|days}",
  "asst.reminderCount": "{n} {n|time|times} in all",
  "outcome.": "no outcome",
  "outcome.reached": "reached",
  "outcome.no_answer": "no answer",
  "outcome.promised": "promised to top up",
  "outcome.refused": "refused",
  "rep.siteAll": "Choose a site",
  "rep.noneToCount": "nothing to count this month",
  "a11y.nav": "Main navigation",
  "nav.more": "More",
  "a11y.rowOpen": "Open ticket #{id}",
  "a11y.redMeters": "Households with red meters",
  "a11y.board": "Ticket board",
  "a11y.reminderFor": "Reminder for {unit}",
};

Object.assign(catalogues["zh-CN"], zh);
Object.assign(catalogues.en, en);

// ago is a relative time in the UI's language: "1 秒前", "3 天前", "3d ago".
export function ago(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = s < 60 ? t("ago.s", { n: s }) : s < 3600 ? t("ago.m", { n: Math.floor(s / 60) }) :
    s < 86400 ? t("ago.h", { n: Math.floor(s / 3600) }) : t("ago.d", { n: Math.floor(s / 86400) });
  return t("rel.ago", { d });
}

// monthLabel is a month as the UI's language writes it: "2026年12月", "December 2026".
export function monthLabel(month: string): string {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m) return month;
  if (currentLang() !== "en") return `${m[1]}年${Number(m[2])}月`;
  return new Intl.DateTimeFormat("en-GB", { month: "long", year: "numeric", timeZone: "UTC" }).format(Date.UTC(+m[1], +m[2] - 1, 1));
}
