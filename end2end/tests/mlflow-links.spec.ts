import { expect, test } from "@playwright/test";

// The links the MLflow client prints (`🏃 View run … at: http://host/#/experiments/2/runs/<id>`)
// and the MLflow UI's other hash routes open the matching page here.
test("MLflow's hash links land on the matching page", async ({ page, request }) => {
  const post = async (path: string, data: unknown) => {
    const r = await request.post(`/api/2.0/mlflow/${path}`, { data });
    expect(r.ok(), await r.text()).toBeTruthy();
    return r.json();
  };
  const name = `hash-${Date.now()}`;
  const experiment = (await post("experiments/create", { name })).experiment_id;
  const run = (await post("runs/create", { experiment_id: experiment, run_name: "hash-run" })).run.info.run_id;
  const other = (await post("runs/create", { experiment_id: experiment, run_name: "hash-other" })).run.info.run_id;

  await page.goto(`/#/experiments/${experiment}/runs/${run}`);
  await expect(page).toHaveURL(new RegExp(`/runs/${run}$`));
  await expect(page.getByRole("heading", { name: "hash-run" })).toBeVisible();

  await page.goto(`/#/experiments/${experiment}`);
  await expect(page).toHaveURL(new RegExp(`/experiments/${experiment}$`));
  await expect(page.getByRole("heading", { name })).toBeVisible();

  const runs = encodeURIComponent(JSON.stringify([run, other]));
  await page.goto(`/#/compare-runs?runs=${runs}&experiments=${encodeURIComponent(JSON.stringify([experiment]))}`);
  await expect(page).toHaveURL(new RegExp(`/compare\\?runs=${run},${other}$`));

  await page.goto("/#/models");
  await expect(page).toHaveURL(/\/models$/);
});

test("compare: no runs chosen explains what to do; a stale id is named and the others compared", async ({ page, request }) => {
  await page.goto("/compare");
  await expect(page.locator("#compare-empty")).toContainText("Tick two or more runs");
  await expect(page.locator("#compare-empty").getByRole("link", { name: "Go to experiments" })).toHaveAttribute("href", "/experiments");

  const post = async (path: string, data: unknown) => {
    const r = await request.post(`/api/2.0/mlflow/${path}`, { data });
    expect(r.ok(), await r.text()).toBeTruthy();
    return r.json();
  };
  const experiment = (await post("experiments/create", { name: `stale-${Date.now()}` })).experiment_id;
  const ids: string[] = [];
  for (const name of ["kept-a", "kept-b"]) {
    ids.push((await post("runs/create", { experiment_id: experiment, run_name: name })).run.info.run_id);
  }
  const stale = "0".repeat(32);
  const response = await page.goto(`/compare?runs=${ids[0]},${stale},${ids[1]}`);
  expect(response?.status()).toBe(200);
  await expect(page.locator("#compare-missing")).toHaveText(`Left out, no such run: ${stale}`);
  await expect(page.locator(".legend")).toContainText("kept-a");
  await expect(page.locator(".legend")).toContainText("kept-b");
  // Only stale ids: a 404 that says so.
  const gone = await page.goto(`/compare?runs=${stale}`);
  expect(gone?.status()).toBe(404);
  await expect(page.getByRole("alert").first()).toContainText(stale);
});

test("dark mode follows the system's setting", async ({ browser }) => {
  const colors = async (colorScheme: "light" | "dark") => {
    const context = await browser.newContext({ colorScheme });
    const page = await context.newPage();
    await page.goto("/experiments");
    const result = await page.evaluate(() => {
      const style = getComputedStyle(document.body);
      return { background: style.backgroundColor, text: style.color };
    });
    await context.close();
    return result;
  };
  const light = await colors("light");
  const dark = await colors("dark");
  expect(light.background).toBe("rgb(246, 247, 249)");
  expect(dark.background).toBe("rgb(15, 20, 27)");
  expect(dark.text).toBe("rgb(227, 232, 239)");
});

test("the section stays marked on its inner pages, / focuses the search box, long run names stay on one line", async ({ page, request }) => {
  const post = async (path: string, data: unknown) => {
    const r = await request.post(`/api/2.0/mlflow/${path}`, { data });
    expect(r.ok(), await r.text()).toBeTruthy();
    return r.json();
  };
  const experiment = (await post("experiments/create", { name: `keys-${Date.now()}` })).experiment_id;
  const longName = "a-very-long-run-name-".repeat(8);
  const run = (await post("runs/create", { experiment_id: experiment, run_name: longName })).run.info.run_id;

  await page.goto(`/runs/${run}`);
  await expect(page.locator(".nav-link.active")).toHaveText("Experiments");
  await page.goto("/compare");
  await expect(page.locator(".nav-link.active")).toHaveText("Experiments");

  // This wait timed out once in many runs: if it does again, the failure shows the page's errors.
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`/experiments/${experiment}`);
  await expect(page.locator('body[data-hydrated="true"]'))
    .toBeAttached()
    .catch((e) => {
      throw new Error(`${e}\npage errors: ${errors.join("\n") || "none"}`);
    });
  const cell = page.locator("#runs-table td.name").first();
  // One line of 14 px text is 21 px tall; the name would wrap into several without the rule.
  const box = await cell.locator("a").boundingBox();
  expect(box?.height ?? 0).toBeLessThan(30);
  await expect(cell.locator("a")).toHaveAttribute("title", longName);

  await page.locator("h1").click();
  await page.keyboard.press("/");
  await expect(page.locator("#run-filter")).toBeFocused();
  // Typing a "/" in the box is just a character.
  await page.keyboard.type("tags./x");
  await expect(page.locator("#run-filter")).toHaveValue("tags./x");
});
