// `npm run lock:complete` — run after `npm install` changes package-lock.json.
//
// The registry mirror this project is built against serves only some platforms' optional
// binaries (e.g. no @next/swc-darwin-*), so `npm install` leaves them out of the lock file and
// `npm ci` then refuses the lock ("Missing: … from lock file"). This adds an entry for every
// optional dependency that has none, with os/cpu/libc read from its name, so npm skips it on
// other platforms and fetches it by name@version where it applies. Idempotent.
import { readFileSync, writeFileSync } from "node:fs";

const LOCK = new URL("../package-lock.json", import.meta.url);
const lock = JSON.parse(readFileSync(LOCK, "utf8"));
const pkgs = lock.packages;
let added = 0;

for (const meta of Object.values(pkgs)) {
  for (const [name, spec] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (pkgs[key]) continue;
    // Platform packages are named <scope>/<prefix>-<os>-<cpu>[-<abi>].
    const match = name.match(/-(darwin|linux|win32|android|freebsd|openharmony)-([a-z0-9]+)(?:-([a-z0-9]+))?$/);
    if (!match) throw new Error(`${name}: not a platform package; resolve it with npm install`);
    const [, os, cpu, abi] = match;
    const entry = { version: spec.replace(/^[\^~=]/, ""), cpu: [cpu], optional: true, os: [os] };
    if (os === "linux") entry.libc = [abi?.startsWith("musl") ? "musl" : "glibc"];
    pkgs[key] = entry;
    added += 1;
  }
}

lock.packages = Object.fromEntries(
  Object.entries(pkgs).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
writeFileSync(LOCK, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock file: ${added} optional platform entries added`);
