import { expect, test, type Page } from "@playwright/test";

/** Resolves once the WASM bundle has taken over the server-rendered page. */
async function waitForHydration(page: Page) {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: "attached" });
}

test("the shell navigates between sections", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Experiments" })).toBeVisible();
  await waitForHydration(page);
  for (const section of ["Models", "Deployments", "Inference", "Monitoring", "Experiments"]) {
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: section }).click();
    await expect(page.getByRole("heading", { level: 1, name: section })).toBeVisible();
  }
});

test("the experiments list is rendered on the server", async ({ request }) => {
  const response = await request.get("/experiments");
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain("Default");
  expect(html).toContain('id="experiments-table"');
});

test("a new experiment appears without a full reload", async ({ page }) => {
  const name = `e2e-${Date.now()}`;
  await page.goto("/experiments");
  await waitForHydration(page);
  // A marker on window survives client-side updates and is lost on a reload.
  await page.evaluate(() => ((window as any).__noReload = true));

  await page.getByLabel("New experiment").fill(name);
  await page.getByRole("button", { name: "Create" }).click();

  const row = page.locator("#experiments-table tbody tr", { hasText: name });
  await expect(row).toBeVisible();
  await expect(row.locator("td.num")).toHaveText("0");
  await expect(page.getByLabel("New experiment")).toHaveValue("");
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
  await expect(page.getByRole("alert")).toHaveCount(0);
});

test("empty and duplicate names are refused inline", async ({ page }) => {
  await page.goto("/experiments");
  await waitForHydration(page);
  await page.evaluate(() => ((window as any).__noReload = true));
  const input = page.getByLabel("New experiment");
  const rowsBefore = await page.locator("#experiments-table tbody tr").count();

  await input.fill("   ");
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByRole("alert")).toHaveText("Experiment name must not be empty");
  await expect(input).toHaveAttribute("aria-invalid", "true");

  await input.fill("Default");
  await page.getByRole("button", { name: "Create" }).click();
  await expect(page.getByRole("alert")).toContainText("already exists");

  await expect(page.locator("#experiments-table tbody tr")).toHaveCount(rowsBefore);
  expect(await page.evaluate(() => (window as any).__noReload)).toBe(true);
});

test("an unknown address shows a not-found page with status 404", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});
