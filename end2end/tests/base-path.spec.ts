import { expect, test } from "@playwright/test";

// A second server started by scripts/test.sh with `--base-path /aiops`, as a proxy that
// forwards one path of its site would reach it. Its address, ending in /aiops/.
const prefixed = process.env.AIOPS_BASE_PATH_URL ?? "";
const adminPassword = process.env.AIOPS_ADMIN_PASSWORD ?? "";

test("under a path prefix: sign in, navigate, call a server function, stay under the prefix", async ({ browser }) => {
  expect(prefixed, "AIOPS_BASE_PATH_URL is not set: run via scripts/test.sh").toMatch(/\/aiops\/$/);
  const context = await browser.newContext({ extraHTTPHeaders: {} });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
  page.on("pageerror", (e) => problems.push(String(e)));
  // Every request the page makes stays under the prefix.
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (!path.startsWith("/aiops")) problems.push(`request outside the prefix: ${r.url()}`);
  });

  await page.goto(prefixed + "models");
  await expect(page).toHaveURL(/\/aiops\/login\?next=%2Fmodels$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(adminPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/aiops\/models$/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");

  // The top bar navigates in the browser and marks the current section.
  await page.getByRole("link", { name: "Experiments" }).click();
  await expect(page).toHaveURL(/\/aiops\/experiments$/);
  await expect(page.locator(".nav-link.active")).toHaveText("Experiments");

  // A server function through its form, then its result's link.
  const name = `prefixed-${Date.now()}`;
  await page.getByLabel("New experiment").fill(name);
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("link", { name }).click();
  await expect(page).toHaveURL(/\/aiops\/experiments\/\d+$/);
  await expect(page.getByRole("heading", { name })).toBeVisible();

  // The brand goes home, under the prefix.
  await page.locator("a.brand").click();
  await expect(page).toHaveURL(/\/aiops$/);
  expect(problems).toEqual([]);
  await context.close();
});
