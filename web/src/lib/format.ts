import type { Num } from "./api-types";

/** Decimal strings and numbers alike; null/undefined/garbage become NaN, never a silent 0. */
export function num(v: Num | null | undefined): number {
  if (v === null || v === undefined || v === "") return Number.NaN;
  return typeof v === "number" ? v : Number(v);
}

const dash = "—";

export function fmtMoney(v: Num | null | undefined, digits = 2): string {
  const n = num(v);
  if (!Number.isFinite(n)) return dash;
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtNum(v: Num | null | undefined, digits = 4): string {
  const n = num(v);
  if (!Number.isFinite(n)) return dash;
  return n.toLocaleString("en-US", { maximumFractionDigits: digits });
}

export function fmtPct(v: Num | null | undefined, digits = 2, isFraction = false): string {
  const n = num(v);
  if (!Number.isFinite(n)) return dash;
  return `${(isFraction ? n * 100 : n).toFixed(digits)}%`;
}

export function fmtUsd(v: Num | null | undefined): string {
  const n = num(v);
  if (!Number.isFinite(n)) return dash;
  return n < 0.01 && n > 0 ? `$${n.toFixed(5)}` : `$${n.toFixed(n < 10 ? 4 : 2)}`;
}

export function fmtTime(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return dash;
  const d = new Date(typeof v === "number" && v < 1e12 ? v * 1000 : v);
  if (Number.isNaN(d.getTime())) return String(v);
  return d.toISOString().replace("T", " ").slice(0, 16);
}

/** Seconds since epoch (UTC) for lightweight-charts; accepts ISO strings, s or ms. */
export function toUnixSeconds(v: string | number): number {
  if (typeof v === "number") return v > 1e12 ? Math.floor(v / 1000) : Math.floor(v);
  return Math.floor(new Date(v).getTime() / 1000);
}

export function signClass(v: Num | null | undefined): string {
  const n = num(v);
  if (!Number.isFinite(n) || n === 0) return "";
  return n > 0 ? "pos" : "neg";
}
