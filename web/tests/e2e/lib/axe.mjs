// axe-core (from npm, run inside the page) on the current page: WCAG 2.x A and AA rules.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve("axe-core/axe.min.js");

/** The violations axe finds on the page, each as "rule: target (summary)" for a readable assert. */
export async function axeViolations(page) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ path: AXE_PATH });
  const violations = await page.evaluate(async () => {
    const result = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }, resultTypes: ["violations"] });
    return result.violations.map((v) => ({ id: v.id, nodes: v.nodes.map((n) => `${n.target.join(" ")} — ${n.failureSummary?.split("\n")[1] ?? ""}`) }));
  });
  return violations.flatMap((v) => v.nodes.slice(0, 5).map((n) => `${v.id}: ${n}`));
}
