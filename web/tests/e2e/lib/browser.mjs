// Real headless Chromium (Debian's package) driven by playwright-core: no browser downloads.
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { REPO_DIR } from "./backend.mjs";

/** Screenshots land in the repository's artifacts/ directory (CI uploads it). */
export const ARTIFACTS = process.env.E2E_ARTIFACTS ?? path.join(REPO_DIR, "artifacts", "web-screenshots");
export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 390, height: 844 };

export async function launchBrowser() {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A page that fails the test on uncaught page errors and records console errors. */
export async function newPage(browser, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console: ${msg.text()}`);
  });
  page.setDefaultTimeout(20_000);
  return { page, context, problems };
}

export async function screenshot(page, name) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  // A scrolled page would paint the sticky top bar mid-way through a full-page capture.
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/**
 * How many distinct colours a chart's canvases hold. A blank or background-only chart has one or
 * two; drawn candles, lines and axis labels give dozens.
 */
export async function canvasColourCount(page, selector) {
  return page.$eval(selector, (root) => {
    const colours = new Set();
    for (const canvas of root.querySelectorAll("canvas")) {
      if (!canvas.width || !canvas.height) continue;
      const ctx = canvas.getContext("2d");
      if (!ctx) continue;
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      // Sample every 7th pixel: plenty to see lines, cheap enough for big canvases.
      for (let i = 0; i < data.length; i += 28) colours.add(`${data[i]},${data[i + 1]},${data[i + 2]},${data[i + 3]}`);
    }
    return colours.size;
  });
}
