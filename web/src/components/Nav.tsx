"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useState } from "react";

const LINKS = [
  { href: "/", label: "Dashboard" },
  { href: "/analysis/", label: "Analysis" },
  { href: "/portfolio/", label: "Portfolio" },
  { href: "/backtest/", label: "Backtest" },
  { href: "/costs/", label: "Costs" },
];

export function Nav() {
  const pathname = usePathname() ?? "/";
  const [open, setOpen] = useState(false);
  const norm = (p: string) => (p.endsWith("/") ? p : `${p}/`);
  return (
    <header className="topbar">
      <Link href="/" className="brand" onClick={() => setOpen(false)}>
        <span className="brand-mark">◆</span> cryptofirm
      </Link>
      <button
        className="nav-toggle"
        aria-label="Toggle navigation"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
      >
        ☰
      </button>
      <nav className={open ? "nav open" : "nav"} aria-label="Main">
        {LINKS.map((l) => (
          <Link
            key={l.href}
            href={l.href}
            className={norm(pathname) === l.href ? "active" : undefined}
            onClick={() => setOpen(false)}
          >
            {l.label}
          </Link>
        ))}
      </nav>
    </header>
  );
}
