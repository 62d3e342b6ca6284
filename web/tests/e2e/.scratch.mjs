import { launchBrowser, newPage, DESKTOP, PHONE, screenshot } from "./lib/browser.mjs";
import { axeViolations } from "./lib/axe.mjs";
const base = process.env.E2E_BASE_URL;
const browser = await launchBrowser();
const { page, problems } = await newPage(browser, DESKTOP);
const sessions = await (await fetch(`${base}/api/sessions`)).json();
for (const [name, url] of [["floor-list", "/floor/"], ["floor-session", `/floor/?session=${sessions[0].id}`]]) {
  await page.setViewportSize(DESKTOP);
  await page.goto(base + url);
  await page.waitForTimeout(3000);
  console.log(name, await axeViolations(page));
  await screenshot(page, `scratch-${name}-1280`);
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(800);
  console.log(name, "390", await axeViolations(page), await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth));
  await screenshot(page, `scratch-${name}-390`);
}
console.log(problems);
await browser.close();
