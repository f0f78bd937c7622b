// The dashboard as a data scientist uses it, on data logged by the real MLflow client
// (end2end/seed/sweep.py, run by scripts/test.sh before this suite): a nested sweep with
// per-step metrics, a dataset, images, CSV/JSON/log/Markdown artifacts, a logged
// scikit-learn model, a run left running, and a 250-run experiment. Every page is checked
// at 1440x900 and 390x844, and a screenshot of each is written for a reviewer.
import * as fs from "node:fs";
import * as path from "node:path";
import { expect, test, type Page } from "@playwright/test";

type Seed = {
  experiment_id: string;
  parent_id: string;
  child_ids: string[];
  artifacts_run: string;
  model_id: string;
  running_id: string;
  big_experiment_id: string;
};

function loadSeed(): Seed {
  const file = process.env.AIOPS_SEED_FILE;
  if (!file || !fs.existsSync(file)) {
    throw new Error("AIOPS_SEED_FILE must name the JSON written by end2end/seed/sweep.py");
  }
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

// Read when a test first needs it, so listing the tests (`--list`) works without it.
let loaded: Seed | undefined;
const seed = new Proxy({} as Seed, {
  get: (_, key) => (loaded ??= loadSeed())[key as keyof Seed],
});
const SHOTS = process.env.AIOPS_SCREENSHOT_DIR ?? path.join(__dirname, "..", "screenshots");

async function hydrated(page: Page) {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: "attached" });
}

/** Opens the Manage panel unless it is open already. */
async function openManage(page: Page) {
  const panel = page.locator("#manage");
  if (!(await panel.evaluate((d) => (d as HTMLDetailsElement).open))) {
    await panel.locator("summary").first().click();
  }
}

/** Console errors on a page, collected from the start. */
function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

function pages(): [string, string][] {
  const s = seed;
  return [
    ["experiments", "/experiments"],
    ["experiment", `/experiments/${s.experiment_id}`],
    ["experiment-many", `/experiments/${s.big_experiment_id}`],
    ["run", `/runs/${s.artifacts_run}?file=plots/large.png`],
    ["run-parent", `/runs/${s.parent_id}`],
    ["compare", `/compare?runs=${s.child_ids.join(",")}`],
    ["logged-model", `/logged-models/${s.model_id}`],
    ["models", "/models"],
    ["deployments", "/deployments"],
    ["inference", "/inference"],
    ["monitoring", "/monitoring"],
    ["account", "/account"],
    ["admin", "/admin"],
  ];
}

test("every page fits the screen's width, without console errors; screenshot written", async ({ page }, info) => {
  const errors = watchConsole(page);
  const size = info.project.name;
  fs.mkdirSync(path.join(SHOTS, size), { recursive: true });
  for (const [name, url] of pages()) {
    const response = await page.goto(url);
    expect(response?.status(), url).toBe(200);
    await hydrated(page);
    await page.waitForLoadState("networkidle");
    // The page itself never scrolls sideways; wide tables and charts scroll in their box.
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `${url} is wider than the screen`).toBeLessThanOrEqual(0);
    await page.screenshot({ path: path.join(SHOTS, size, `${name}.png`), fullPage: true });
  }
  expect(errors).toEqual([]);
});

test("the top bar reaches every section (behind a menu on a phone); wide tables scroll in their box", async ({ page }, info) => {
  const phone = info.project.name === "phone";
  await page.goto("/experiments");
  await hydrated(page);
  const menu = page.getByRole("button", { name: /Menu/ });
  const monitoring = page.locator("#main-nav").getByRole("link", { name: "Monitoring" });
  if (phone) {
    await expect(monitoring).toBeHidden();
    await menu.click();
  } else {
    await expect(menu).toBeHidden();
  }
  for (const name of ["Experiments", "Models", "Deployments", "Inference", "Monitoring"]) {
    await expect(page.locator("#main-nav").getByRole("link", { name })).toBeVisible();
  }
  await monitoring.click();
  await expect(page).toHaveURL(/\/monitoring$/);
  if (phone) {
    // Navigating folds the menu again.
    await expect(page.locator("#main-nav").getByRole("link", { name: "Models" })).toBeHidden();
  }
  // The selection and name columns stay put while a wide table scrolls inside its box.
  await page.goto(`/experiments/${seed.experiment_id}?cols=metrics.accuracy,metrics.loss,metrics.val_loss,params.depth,params.lr,params.model,params.seed,params.search,tags.team`);
  await hydrated(page);
  const name = page.locator("#runs-table tbody tr td.name").first();
  expect(await name.evaluate((el) => getComputedStyle(el).position)).toBe("sticky");
  const box = page.locator(".table-scroll").first();
  const [scrollWidth, clientWidth] = await box.evaluate((el) => [el.scrollWidth, el.clientWidth]);
  if (phone) expect(scrollWidth).toBeGreaterThan(clientWidth);
  if (scrollWidth > clientWidth) {
    const before = await name.evaluate((el) => el.getBoundingClientRect().left);
    await box.evaluate((el) => el.scrollBy(400, 0));
    expect(Math.abs((await name.evaluate((el) => el.getBoundingClientRect().left)) - before)).toBeLessThan(2);
  }
  // A run name stays on one line.
  const [height, lineHeight] = await name.evaluate((el) => [el.getBoundingClientRect().height, parseFloat(getComputedStyle(el).lineHeight)]);
  expect(height).toBeLessThan(lineHeight * 2 + 24);
});

test("controls on the run page update in place, without jumping to the top", async ({ page }) => {
  await page.goto(`/runs/${seed.artifacts_run}`);
  await hydrated(page);
  const artifacts = page.locator("#artifacts");
  await artifacts.scrollIntoViewIfNeeded();
  const y = await page.evaluate(() => window.scrollY);
  expect(y).toBeGreaterThan(100);
  await artifacts.getByRole("link", { name: "plots/" }).click();
  await expect(page).toHaveURL(/path=plots/);
  await artifacts.getByRole("link", { name: "small.png" }).click();
  await expect(page.locator("#artifact-preview img")).toBeVisible();
  expect(Math.abs((await page.evaluate(() => window.scrollY)) - y)).toBeLessThan(40);
  await expect(page.locator("#artifact-preview")).toBeInViewport();
  // A chart toggle, from where the charts are.
  await page.locator(".chart-controls").first().scrollIntoViewIfNeeded();
  const y2 = await page.evaluate(() => window.scrollY);
  await page.locator(".chart-controls").getByRole("link", { name: "Log" }).click();
  await expect(page).toHaveURL(/log=1/);
  expect(Math.abs((await page.evaluate(() => window.scrollY)) - y2)).toBeLessThan(40);
});

test("nested runs: children under their parent, expand and collapse, links both ways", async ({ page }) => {
  await page.goto(`/experiments/${seed.experiment_id}`);
  await hydrated(page);
  const parentRow = page.locator(`#runs-table tr[data-run-id="${seed.parent_id}"]`);
  await expect(parentRow).toHaveAttribute("data-depth", "0");
  const child = page.locator(`#runs-table tr[data-run-id="${seed.child_ids[0]}"]`);
  await expect(child).toHaveCount(0);
  await parentRow.getByTitle("Show 6 child runs").click();
  await expect(page).toHaveURL(new RegExp(`open=${seed.parent_id}`));
  await expect(child).toHaveAttribute("data-depth", "1");
  await expect(page.locator('#runs-table tr[data-depth="1"]')).toHaveCount(6);
  // Children sit right after their parent.
  const order = await page.locator("#runs-table tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run-id")));
  const at = order.indexOf(seed.parent_id);
  expect(order.slice(at + 1, at + 7).sort()).toEqual([...seed.child_ids].sort());
  await parentRow.getByTitle("Hide 6 child runs").click();
  await expect(child).toHaveCount(0);

  await page.goto(`/runs/${seed.child_ids[1]}`);
  await hydrated(page);
  await page.locator("#parent-run a").click();
  await expect(page).toHaveURL(new RegExp(`/runs/${seed.parent_id}$`));
  await expect(page.locator("#child-runs li")).toHaveCount(6);
  await expect(page.locator("#child-runs")).toHaveAttribute("open", "");
  // The Manage panel starts folded, with nothing stray beside it.
  expect(await page.locator("#manage").evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
  expect(await page.locator("#manage").evaluate((d) => d.parentElement!.textContent)).not.toMatch(/\b0 >/);
});

test("manage a run: rename, tags, Markdown description (sanitised), delete and restore", async ({ page }) => {
  const errors = watchConsole(page);
  const id = seed.child_ids[4];
  await page.goto(`/runs/${id}`);
  await hydrated(page);
  await openManage(page);
  await page.locator("#rename-form input[name=name]").fill("lr-1.0-renamed");
  await page.locator("#rename-form").getByRole("button", { name: "Rename" }).click();
  await expect(page.locator("#run-name")).toHaveText("lr-1.0-renamed");

  await openManage(page);
  await page.getByLabel("Tag key").fill("reviewed");
  await page.getByLabel("Tag value").fill("yes");
  await page.locator("#tag-form").getByRole("button", { name: "Set tag" }).click();
  await expect(page.locator(".tag-list")).toContainText("reviewed = yes");
  await page.getByRole("button", { name: "Remove tag reviewed" }).click();
  await expect(page.locator(".tag-list")).not.toContainText("reviewed");

  await page.locator(".edit-description > summary").click();
  await page.getByLabel("Description (Markdown)").fill("## Notes\n\n**good** run <script>window.__pwned = 1</script> [x](javascript:alert(1))");
  await page.getByRole("button", { name: "Save description" }).click();
  await expect(page.locator("#description h2")).toHaveText("Notes");
  await expect(page.locator("#description strong")).toHaveText("good");
  await expect(page.locator("#description script")).toHaveCount(0);
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
  expect(await page.locator("#description a").getAttribute("href")).toBeNull();

  await openManage(page);
  await page.locator("#lifecycle-button").click();
  await expect(page.locator("#deleted-badge")).toBeVisible();
  // Gone from the table, back on request and marked.
  await page.goto(`/experiments/${seed.experiment_id}?open=${seed.parent_id}`);
  await hydrated(page);
  await expect(page.locator(`tr[data-run-id="${id}"]`)).toHaveCount(0);
  await page.locator("#toggle-deleted").click();
  await expect(page.locator(`tr[data-run-id="${id}"] .status-deleted`)).toBeVisible();
  await page.goto(`/runs/${id}`);
  await hydrated(page);
  await openManage(page);
  await page.locator("#lifecycle-button").click();
  await expect(page.locator("#deleted-badge")).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("manage an experiment: description rendered, rename, delete, listed as deleted, restore", async ({ page, request }) => {
  await page.goto(`/experiments/${seed.experiment_id}`);
  await hydrated(page);
  // The description the client logged, as Markdown, without its script.
  await expect(page.locator("#description h1")).toHaveText("Iris sweep");
  await expect(page.locator("#description li")).toHaveCount(2);
  await expect(page.locator("#description script")).toHaveCount(0);

  const created = await request.post("/api/2.0/mlflow/experiments/create", { data: { name: `pw-manage-${Date.now()}` } });
  const expId = (await created.json()).experiment_id;
  await page.goto(`/experiments/${expId}`);
  await hydrated(page);
  await openManage(page);
  const newName = `pw-renamed-${Date.now()}`;
  await page.locator("#rename-form input[name=name]").fill(newName);
  await page.locator("#rename-form").getByRole("button", { name: "Rename" }).click();
  await expect(page.locator("h1")).toHaveText(newName);
  await openManage(page);
  await page.locator("#lifecycle-button").click();
  await expect(page.locator("#deleted-badge")).toBeVisible();
  await page.goto("/experiments");
  await hydrated(page);
  await expect(page.locator(`#experiments-table tr[data-experiment-id="${expId}"]`)).toHaveCount(0);
  await page.locator("#toggle-deleted").click();
  const listed = page.locator(`#deleted-experiments li[data-experiment-id="${expId}"]`);
  await expect(listed).toContainText(newName);
  await listed.getByRole("link").click();
  await hydrated(page);
  await openManage(page);
  await page.locator("#lifecycle-button").click();
  await expect(page.locator("#deleted-badge")).toHaveCount(0);
});

test("a reader sees no management controls", async ({ browser, request }) => {
  const user = `reader-${Date.now()}`;
  const password = "reader-password-1";
  expect((await request.post("/api/2.0/mlflow/users/create", { data: { username: user, password } })).ok()).toBeTruthy();
  expect((await request.post("/api/3.0/mlflow/users/permissions/grant", {
    data: { username: user, resource_type: "experiment", resource_id: seed.experiment_id, permission: "READ" },
  })).ok()).toBeTruthy();
  const context = await browser.newContext({
    viewport: test.info().project.use.viewport,
    extraHTTPHeaders: { Authorization: "Basic " + Buffer.from(`${user}:${password}`).toString("base64") },
  });
  const page = await context.newPage();
  await page.goto(`/runs/${seed.child_ids[0]}`);
  await hydrated(page);
  await expect(page.locator("#run-name")).toBeVisible();
  await expect(page.locator("#manage")).toHaveCount(0);
  await expect(page.locator(".edit-description")).toHaveCount(0);
  await context.close();
});

test("logged model: linked from the run with its flavors, MLmodel shown, files listed", async ({ page }) => {
  await page.goto(`/runs/${seed.artifacts_run}`);
  await hydrated(page);
  const link = page.locator("#run-models a.logged-model-link");
  await expect(link).toHaveText("model");
  await expect(page.locator("#run-models")).toContainText("sklearn");
  await link.click();
  await expect(page).toHaveURL(new RegExp(`/logged-models/${seed.model_id}$`));
  await expect(page.locator("#flavors")).toContainText("python_function");
  await expect(page.locator("#flavors")).toContainText("sklearn");
  await expect(page.locator("#mlmodel pre")).toContainText("flavors:");
  await expect(page.locator("#model-files")).toContainText("MLmodel");
  await expect(page.locator("#model-files")).toContainText("requirements.txt");
  await expect(page.locator("#source-run")).toHaveText(seed.artifacts_run);
  // MLflow's hash link for a logged model lands here too.
  await page.goto(`/#/experiments/${seed.experiment_id}/models/${seed.model_id}`);
  await expect(page).toHaveURL(new RegExp(`/logged-models/${seed.model_id}$`));
});

test("download the runs table as CSV: the filter's runs, the shown columns; a chart's history", async ({ browser, baseURL }) => {
  // Signed in through the form, as a person is: the browser's download carries the session
  // cookie (it would not carry a test's extra Authorization header).
  const context = await browser.newContext({ baseURL, extraHTTPHeaders: {}, viewport: test.info().project.use.viewport });
  const page = await context.newPage();
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(process.env.AIOPS_ADMIN_PASSWORD ?? "");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator('[data-testid="signed-in-user"]')).toHaveText("admin");
  await page.goto(`/experiments/${seed.big_experiment_id}?q=${encodeURIComponent("metrics.score >= 0.5")}&sort=${encodeURIComponent("metrics.`score` DESC")}`);
  await hydrated(page);
  // The columns the filter and sort name come first.
  const headers = await page.locator("#runs-table thead th[data-column^='metrics'], #runs-table thead th[data-column^='params']").evaluateAll((ths) => ths.map((t) => t.getAttribute("data-column")));
  expect(headers[0]).toBe("metrics.score");
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#download-csv").click()]);
  expect(await download.failure()).toBeNull();
  expect(download.suggestedFilename()).toBe(`runs-${seed.big_experiment_id}.csv`);
  const text = fs.readFileSync(await download.path(), "utf8");
  const lines = text.trim().split(/\r?\n/);
  expect(lines[0].startsWith("run_id,run_name,status,start_time,end_time,user,metrics.score")).toBeTruthy();
  expect(lines.length - 1).toBe(125);
  // Sorted by the metric, as on the page.
  expect(lines[1]).toContain("trial-249");

  // A chart's whole history, streamed by the server.
  await page.goto(`/runs/${seed.child_ids[0]}`);
  await hydrated(page);
  const link = page.locator('figure[data-metric="loss"] a.chart-csv');
  const [history] = await Promise.all([page.waitForEvent("download"), link.click()]);
  expect(await history.failure()).toBeNull();
  expect(history.suggestedFilename()).toBe("loss.csv");
  const points = fs.readFileSync(await history.path(), "utf8").trim().split(/\r?\n/);
  expect(points[0]).toBe("step,timestamp,value");
  expect(points.slice(1).map((l) => Number(l.split(",")[0]))).toEqual([...Array(30).keys()]);
  await context.close();
});

test("pager: page number, total, previous and next", async ({ page }) => {
  await page.goto(`/experiments/${seed.big_experiment_id}`);
  await hydrated(page);
  await expect(page.locator("#page-position")).toHaveText("Page 1 of 3 · 250 matching runs");
  await expect(page.locator("#prev-page")).toHaveCount(0);
  const first = await page.locator("#runs-table tbody tr").first().getAttribute("data-run-id");
  await page.locator("#next-page").click();
  await expect(page.locator("#page-position")).toHaveText("Page 2 of 3 · 250 matching runs");
  await page.locator("#next-page").click();
  await expect(page.locator("#page-position")).toHaveText("Page 3 of 3 · 250 matching runs");
  await expect(page.locator("#runs-table tbody tr")).toHaveCount(50);
  await expect(page.locator("#next-page")).toHaveCount(0);
  await page.locator("#prev-page").click();
  await expect(page.locator("#page-position")).toHaveText("Page 2 of 3 · 250 matching runs");
  await page.locator("#prev-page").click();
  await expect(page.locator("#page-position")).toHaveText("Page 1 of 3 · 250 matching runs");
  await expect(page.locator("#runs-table tbody tr").first()).toHaveAttribute("data-run-id", first!);
  await page.goto(`/experiments/${seed.big_experiment_id}?q=${encodeURIComponent("tags.batch = 'b1'")}`);
  await expect(page.locator("#page-position")).toHaveText("Page 1 of 1 · 50 matching runs");
  // Any page number is a page: past the end it is empty, never an error.
  const far = await page.goto(`/experiments/${seed.big_experiment_id}?sort=${encodeURIComponent("metrics.`score` DESC")}&page=9223372036854775806`);
  expect(far?.status()).toBe(200);
  await expect(page.locator("#page-position")).toContainText("Page 9223372036854775807 of 3");
  await expect(page.locator("#runs-table")).toHaveCount(0);
});

test("charts: hover reads each run's value, drag zooms, double-click resets, log ticks read as numbers", async ({ page }) => {
  await page.goto(`/compare?runs=${seed.child_ids.slice(0, 3).join(",")}`);
  await hydrated(page);
  const chart = page.locator('#compare-charts .svg.interactive[data-metric="loss"]');
  await chart.scrollIntoViewIfNeeded();
  const box = (await chart.locator("svg").boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.4);
  const tip = page.locator(".chart-tooltip");
  await expect(tip).toBeVisible();
  await expect(tip.locator(".chart-tooltip-x")).toContainText("step");
  await expect(tip.locator(".chart-tooltip-row")).toHaveCount(3);
  await expect(tip).toContainText("lr-0.01");
  // Drag across the middle: zoomed to that step range, kept in the URL.
  await page.mouse.move(box.x + box.width * 0.4, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.7, box.y + box.height * 0.5, { steps: 5 });
  await page.mouse.up();
  await expect(page).toHaveURL(/xmin=\d+/);
  await expect(page).toHaveURL(/xmax=\d+/);
  const url = new URL(page.url());
  const lo = Number(url.searchParams.get("xmin"));
  const hi = Number(url.searchParams.get("xmax"));
  expect(lo).toBeGreaterThan(5);
  expect(hi).toBeLessThan(28);
  await chart.dblclick();
  await expect(page).not.toHaveURL(/xmin=/);

  // A run's own charts, log scale: ticks read as plain numbers.
  await page.goto(`/runs/${seed.child_ids[0]}?log=1`);
  await hydrated(page);
  const ticks = await page.locator('.svg.interactive[data-metric="loss"] svg text').allTextContents();
  expect(ticks.length).toBeGreaterThan(3);
  expect(ticks.filter((t) => /\de[-+]?\d/.test(t))).toEqual([]);
  // A metric logged once is drawn as a labelled point.
  const single = await page.locator('.svg.interactive[data-metric="accuracy"] svg').innerHTML();
  expect(single).toContain("<circle");
  expect(single).toContain("0.7");
});

test("parallel coordinates: readable labels, constant axes labelled, drag a range to filter", async ({ page }) => {
  await page.goto(`/compare?runs=${seed.child_ids.join(",")}`);
  await hydrated(page);
  const chart = page.locator("#parallel");
  const svg = await chart.locator("svg").innerHTML();
  expect(svg).toContain("all 7");
  const sizes = await chart.locator("svg text").evaluateAll((ts) => ts.map((t) => parseFloat(getComputedStyle(t).fontSize)));
  const width = await chart.evaluate((el) => {
    const svgEl = el.querySelector("svg")!;
    return svgEl.getBoundingClientRect().width / Number(svgEl.getAttribute("width"));
  });
  // On screen, labels are at least 12 px after scaling.
  expect(Math.min(...sizes) * width).toBeGreaterThanOrEqual(12);
  // The pointer acts on what is on screen.
  await chart.scrollIntoViewIfNeeded();
  const box = (await chart.locator("svg").boundingBox())!;
  const axisX = 60 * width;
  await page.mouse.move(box.x + axisX, box.y + box.height * 0.15);
  await page.mouse.down();
  await page.mouse.move(box.x + axisX, box.y + box.height * 0.5, { steps: 5 });
  await page.mouse.up();
  await expect(page).toHaveURL(/pc=/);
  await expect(page.locator("#parallel-kept")).toContainText(/\d of 6 runs in range/);
  await page.locator("#parallel-kept").getByRole("link", { name: "Clear ranges" }).click();
  await expect(page).not.toHaveURL(/pc=/);
});

test("a running run refreshes by itself: its row, its metrics and charts", async ({ page, request }) => {
  await page.goto(`/runs/${seed.running_id}`);
  await hydrated(page);
  await page.evaluate(() => ((window as any).__sameDocument = true));
  await expect(page.locator("#run-metrics")).toContainText("progress");
  // A value this page has never shown, logged by someone else while it is open.
  const fresh = (Math.floor(Math.random() * 9000) + 1000) / 10000;
  const logged = await request.post("/api/2.0/mlflow/runs/log-metric", {
    // The latest value is the one at the highest step (MLflow's rule): a step past any logged.
    data: { run_id: seed.running_id, key: "progress", value: fresh, timestamp: Date.now(), step: Math.floor(Date.now() / 100) },
  });
  expect(logged.ok()).toBeTruthy();
  await expect(page.locator("#run-metrics")).toContainText(String(fresh), { timeout: 20_000 });
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);

  await page.goto(`/experiments/${seed.experiment_id}?cols=metrics.progress`);
  await hydrated(page);
  await page.evaluate(() => ((window as any).__sameDocument = true));
  const next = (Math.floor(Math.random() * 9000) + 1000) / 10000;
  await request.post("/api/2.0/mlflow/runs/log-metric", {
    data: { run_id: seed.running_id, key: "progress", value: next, timestamp: Date.now(), step: Math.floor(Date.now() / 100) + 1 },
  });
  await expect(page.locator(`tr[data-run-id="${seed.running_id}"]`)).toContainText(String(next), { timeout: 20_000 });
  expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
});

test("artifacts: large image from its URL, scaled; CSV header; Markdown rendered", async ({ page }, info) => {
  const width = page.viewportSize()!.width;
  await page.goto(`/runs/${seed.artifacts_run}?path=plots&file=plots/large.png`);
  await hydrated(page);
  const img = page.locator("#artifact-preview img.image-preview");
  await expect(img).toHaveAttribute("src", /get-artifact\?run_uuid=/);
  await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.naturalWidth)).toBeGreaterThanOrEqual(2000);
  const shown = await img.evaluate((el) => el.getBoundingClientRect().width);
  expect(shown).toBeLessThanOrEqual(width);
  expect(shown).toBeGreaterThan(info.project.name === "phone" ? 300 : 600);
  await page.goto(`/runs/${seed.artifacts_run}?path=data&file=data/sample.csv`);
  await hydrated(page);
  await expect(page.locator(".csv-preview thead th").first()).toHaveText("sepal length (cm)");
  await expect(page.locator(".csv-preview tbody tr")).toHaveCount(50);
  await page.goto(`/runs/${seed.artifacts_run}?file=README.md`);
  await expect(page.locator(".markdown-preview h1")).toHaveText("Report");
  await expect(page.locator(".markdown-preview img")).not.toHaveAttribute("onerror", /.*/);
});

test("search autocomplete offers attributes and the experiment's keys", async ({ page }) => {
  await page.goto(`/experiments/${seed.experiment_id}`);
  await hydrated(page);
  const input = page.getByLabel("Filter runs");
  await input.pressSequentially("metrics.v");
  await expect(page.locator("#run-filter-keys option")).toHaveCount(1);
  await expect(page.locator("#run-filter-keys option")).toHaveAttribute("value", "metrics.val_loss ");
  await input.fill("");
  await input.pressSequentially("metrics.val_loss < 1 AND attr");
  const options = await page.locator("#run-filter-keys option").evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
  expect(options).toContain("metrics.val_loss < 1 AND attributes.status ");
  await input.fill("");
  await input.pressSequentially("params.l");
  await expect(page.locator("#run-filter-keys option")).toHaveAttribute("value", "params.lr ");
});

test("bundles have hashed names, are cached for a year and sent compressed", async ({ page, request }) => {
  await page.goto("/experiments");
  const wasm = await page.locator('link[rel="preload"][as="fetch"]').getAttribute("href");
  const css = await page.locator('link[rel="stylesheet"]').getAttribute("href");
  for (const href of [wasm!, css!]) {
    expect(href).toMatch(/\/pkg\/aiops\.[A-Za-z0-9_-]{8,}\.(wasm|css)$/);
    const response = await request.get(href, { headers: { "Accept-Encoding": "gzip, br" } });
    expect(response.headers()["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(response.headers()["content-encoding"]).toMatch(/gzip|br/);
  }
});
