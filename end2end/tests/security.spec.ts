import { expect, test, type Page } from "@playwright/test";

/** Records Content-Security-Policy violations from the first script the page runs. */
async function recordViolations(page: Page) {
  await page.addInitScript(() => {
    (window as any).__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      (window as any).__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
}

async function makeRun(page: Page): Promise<{ experimentId: string; runId: string }> {
  const api = page.request;
  const name = `csp-${Date.now()}`;
  const exp = await (await api.post("/api/2.0/mlflow/experiments/create", { data: { name } })).json();
  const run = await (
    await api.post("/api/2.0/mlflow/runs/create", {
      data: { experiment_id: exp.experiment_id, run_name: "</title><script>alert(1)</script>" },
    })
  ).json();
  const runId = run.run.info.run_id;
  await api.post("/api/2.0/mlflow/runs/log-metric", {
    data: { run_id: runId, key: "loss", value: 0.5, timestamp: Date.now(), step: 1 },
  });
  return { experimentId: exp.experiment_id, runId };
}

test("every page hydrates under its Content-Security-Policy", async ({ page }) => {
  await recordViolations(page);
  const dialogs: string[] = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const { experimentId, runId } = await makeRun(page);
  for (const path of [
    "/",
    "/experiments",
    `/experiments/${experimentId}`,
    `/runs/${runId}`,
    `/runs/${runId}?smooth=0.6&x=time`,
    `/compare?runs=${runId}`,
    "/models",
    "/deployments",
    "/inference",
    "/monitoring",
    "/no-such-page",
  ]) {
    const response = await page.goto(path);
    const csp = response?.headers()["content-security-policy"] ?? "";
    expect(csp, path).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+' 'wasm-unsafe-eval'/);
    expect(csp, path).toContain("frame-ancestors 'none'");
    await page.locator('body[data-hydrated="true"]').waitFor({ state: "attached" });
    expect(await page.evaluate(() => (window as any).__cspViolations), path).toEqual([]);
  }
  expect(dialogs).toEqual([]);
  expect(errors).toEqual([]);
  // The hostile run name is the title's text, not markup.
  await page.goto(`/runs/${runId}`);
  await expect(page).toHaveTitle("</title><script>alert(1)</script> · AI Ops Dashboard");
});

test("server functions refuse cross-site posts and never redirect off-site", async ({ page }) => {
  await page.goto("/experiments");
  await page.locator('body[data-hydrated="true"]').waitFor({ state: "attached" });
  // Learn the create-experiment server function's address from a real call.
  const call = page.waitForRequest((r) => r.method() === "POST" && r.url().includes("/_app/"));
  await page.getByLabel("New experiment").fill(`sf-${Date.now()}`);
  await page.getByRole("button", { name: "Create" }).click();
  const url = (await call).url();
  const origin = new URL(url).origin;

  const name = `csrf-${Date.now()}`;
  const crossSite = await page.request.post(url, {
    headers: { Origin: "https://evil.example", "Content-Type": "application/x-www-form-urlencoded" },
    data: `name=${name}`,
    maxRedirects: 0,
  });
  expect(crossSite.status()).toBe(403);
  const fetchMarked = await page.request.post(url, {
    headers: { "Sec-Fetch-Site": "cross-site", "Content-Type": "application/x-www-form-urlencoded" },
    data: `name=${name}`,
    maxRedirects: 0,
  });
  expect(fetchMarked.status()).toBe(403);
  const list = await (await page.request.get(`/api/2.0/mlflow/experiments/get-by-name?experiment_name=${name}`)).status();
  expect(list).toBe(404);

  // A same-origin form post answered with a redirect "back" to a foreign Referer stays here.
  const sameSite = await page.request.post(url, {
    headers: {
      Origin: origin,
      Referer: "https://evil.example/phish",
      Accept: "text/html",
      "Content-Type": "application/x-www-form-urlencoded",
    },
    data: `name=${name}-2`,
    maxRedirects: 0,
  });
  const location = sameSite.headers()["location"] ?? "";
  expect(location).not.toContain("evil.example");
});
