// Starts the real backend (FastAPI serving /api and the static export at /) on a free port with
// a throw-away SQLite database, and stops it after the tests.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const WEB_DIR = path.resolve(here, "../../..");
export const REPO_DIR = path.resolve(WEB_DIR, "..");
const PYTHON = path.join(REPO_DIR, ".venv/bin/python");

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHealth(baseUrl, proc, logs, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`backend exited with ${proc.exitCode}:\n${logs.join("")}`);
    try {
      const res = await fetch(`${baseUrl}/api/health`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`backend not healthy after ${timeoutMs} ms:\n${logs.join("")}`);
}

function hasCommand(name) {
  const out = spawnSync(PYTHON, ["-m", "cli.main", "--help"], { cwd: REPO_DIR, encoding: "utf8" });
  return new RegExp(`\\b${name}\\b`).test(out.stdout ?? "");
}

/**
 * `cryptofirm demo` migrates, seeds market data and the default portfolio, then serves; we use it
 * when it exists (it is exactly what `make demo` runs) and fall back to `migrate` + `serve`.
 * E2E_BASE_URL attaches to a backend that is already running instead.
 */
export async function startBackend({ timeoutMs = 180_000 } = {}) {
  if (!existsSync(path.join(WEB_DIR, "out", "index.html"))) {
    throw new Error("web/out is missing: run `npm run build` before `npm run test:e2e`");
  }
  if (process.env.E2E_BASE_URL) {
    // Attach to a backend someone else started (dev loop); it is left running.
    return { baseUrl: process.env.E2E_BASE_URL.replace(/\/$/, ""), logs: [], stop: async () => {} };
  }
  const dir = mkdtempSync(path.join(tmpdir(), "cryptofirm-e2e-"));
  const port = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite:///${dir}/e2e.db`,
    WEB_OUT_DIR: path.join(WEB_DIR, "out"),
    LLM_PROVIDER: "rules",
    PYTHONUNBUFFERED: "1",
  };
  const command = hasCommand("demo") ? "demo" : hasCommand("serve") ? "serve" : null;
  if (command !== "demo") {
    const mig = spawnSync(PYTHON, ["-m", "cli.main", "migrate"], { cwd: REPO_DIR, env, encoding: "utf8" });
    if (mig.status !== 0) throw new Error(`migrate failed: ${mig.stderr}`);
  }
  const hostPort = ["--host", "127.0.0.1", "--port", String(port)];
  // Without the CLI command, uvicorn on the app module is the same server.
  const args = command ? ["-m", "cli.main", command, ...hostPort] : ["-m", "uvicorn", "api.main:app", ...hostPort];
  const proc = spawn(PYTHON, args, { cwd: REPO_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
  const logs = [];
  proc.stdout.on("data", (d) => logs.push(d.toString()));
  proc.stderr.on("data", (d) => logs.push(d.toString()));
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth(baseUrl, proc, logs, timeoutMs);
  } catch (err) {
    proc.kill("SIGKILL");
    throw err;
  }
  return {
    baseUrl,
    logs,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        await new Promise((r) => {
          const t = setTimeout(() => (proc.kill("SIGKILL"), r()), 5000);
          proc.on("exit", () => (clearTimeout(t), r()));
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
