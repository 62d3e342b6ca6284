"use client";

import { useMemo, useState, type ReactNode } from "react";

export interface Column<R> {
  key: string;
  label: string;
  /** what the column sorts by; without it the column does not sort */
  sortValue?: (row: R) => number | string | null | undefined;
  render: (row: R) => ReactNode;
  num?: boolean;
  className?: (row: R) => string;
}

/**
 * A table whose sortable headers are buttons (keyboard and screen readers included: the header
 * carries aria-sort). Every column has header text.
 */
export function SortTable<R>({
  columns,
  rows,
  rowKey,
  initial,
  testId,
  caption,
}: {
  columns: Column<R>[];
  rows: R[];
  rowKey: (row: R, i: number) => string | number;
  initial?: { key: string; dir: "asc" | "desc" };
  testId?: string;
  caption: string;
}) {
  const [sort, setSort] = useState(initial);
  const sorted = useMemo(() => {
    const col = columns.find((c) => c.key === sort?.key);
    if (!col?.sortValue || !sort) return rows;
    const get = col.sortValue;
    const sign = sort.dir === "asc" ? 1 : -1;
    return [...rows].sort((a, b) => {
      const x = get(a);
      const y = get(b);
      if (x == null || y == null) return x == null ? (y == null ? 0 : 1) : -1;
      return (x < y ? -1 : x > y ? 1 : 0) * sign;
    });
  }, [rows, columns, sort]);
  const toggle = (key: string) =>
    setSort((s) => (s?.key === key ? { key, dir: s.dir === "asc" ? "desc" : "asc" } : { key, dir: "desc" }));
  return (
    <div className="table-wrap" tabIndex={0} role="region" aria-label={caption}>
      <table data-testid={testId}>
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c) => {
              const active = sort?.key === c.key;
              return (
                <th
                  key={c.key}
                  className={c.num ? "num" : undefined}
                  aria-sort={active ? (sort?.dir === "asc" ? "ascending" : "descending") : undefined}
                  data-testid={`col-${c.key}`}
                >
                  {c.sortValue ? (
                    <button className="th-sort" onClick={() => toggle(c.key)}>
                      {c.label}
                      <span aria-hidden>{active ? (sort?.dir === "asc" ? " ▲" : " ▼") : " ↕"}</span>
                    </button>
                  ) : (
                    c.label
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {sorted.map((r, i) => (
            <tr key={rowKey(r, i)}>
              {columns.map((c) => (
                <td key={c.key} className={`${c.num ? "num" : ""} ${c.className?.(r) ?? ""}`.trim() || undefined}>
                  {c.render(r)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
