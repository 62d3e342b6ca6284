"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useEffect, useRef, useState } from "react";

const LINKS = [
  { href: "/", label: "Dashboard" },
  { href: "/floor/", label: "Trading floor" },
  { href: "/analysis/", label: "Analysis" },
  { href: "/portfolio/", label: "Portfolio" },
  { href: "/backtest/", label: "Backtest" },
  { href: "/costs/", label: "Costs" },
];

export function Nav() {
  const pathname = usePathname() ?? "/";
  const [open, setOpen] = useState(false);
  const toggle = useRef<HTMLButtonElement>(null);
  // Escape closes the phone menu and gives the focus back to its button.
  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      setOpen(false);
      toggle.current?.focus();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [open]);
  const norm = (p: string) => (p.endsWith("/") ? p : `${p}/`);
  return (
    <header className="topbar">
      <Link href="/" className="brand" onClick={() => setOpen(false)}>
        <span className="brand-mark" aria-hidden>
          ◆
        </span>{" "}
        cryptofirm
      </Link>
      <button
        ref={toggle}
        className="nav-toggle"
        aria-label="Toggle navigation"
        aria-controls="main-nav"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
      >
        ☰
      </button>
      <nav id="main-nav" className={open ? "nav open" : "nav"} aria-label="Main">
        {LINKS.map((l) => (
          <Link
            key={l.href}
            href={l.href}
            className={norm(pathname) === l.href ? "active" : undefined}
            aria-current={norm(pathname) === l.href ? "page" : undefined}
            onClick={() => setOpen(false)}
          >
            {l.label}
          </Link>
        ))}
      </nav>
    </header>
  );
}
