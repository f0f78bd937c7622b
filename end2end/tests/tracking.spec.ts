import { expect, test, type APIRequestContext, type Page } from "@playwright/test";

async function waitForHydration(page: Page) {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: "attached" });
}

const T0 = 1_700_000_000_000;
let experimentId = "";
const runIds: string[] = [];

async function api(request: APIRequestContext, path: string, data: unknown) {
  const response = await request.post(`/api/2.0/mlflow/${path}`, { data });
  expect(response.ok(), `${path}: ${await response.text()}`).toBeTruthy();
  return response.json();
}

test.describe.serial("tracking pages", () => {
  test.beforeAll(async ({ request }) => {
    experimentId = (await api(request, "experiments/create", { name: `pw-${Date.now()}` })).experiment_id;
    for (let i = 0; i < 6; i++) {
      const created = await api(request, "runs/create", {
        experiment_id: experimentId,
        run_name: `run-${i}`,
        start_time: T0 + i * 1000,
      });
      const id = created.run.info.run_id;
      runIds.push(id);
      const metrics = Array.from({ length: 20 }, (_, s) => ({ key: "loss", value: (i + 1) / (s + 1), timestamp: T0 + s, step: s }));
      metrics.push({ key: "acc", value: 0.5 + i * 0.08, timestamp: T0, step: 0 });
      await api(request, "runs/log-batch", {
        run_id: id,
        metrics,
        params: [
          { key: "lr", value: String((i + 1) / 10) },
          { key: "model", value: i % 2 ? "cnn" : "gbm" },
          { key: "seed", value: "7" },
        ],
      });
    }
    await api(request, "runs/log-inputs", {
      run_id: runIds[0],
      datasets: [{
        tags: [{ key: "mlflow.data.context", value: "training" }],
        dataset: { name: "churn-train", digest: "d41d8cd9", source_type: "s3", source: '{"uri": "s3://data/churn.parquet"}', schema: '{"cols": ["age"]}' },
      }],
    });
    const put = await request.put(
      `/api/2.0/mlflow-artifacts/artifacts/${experimentId}/${runIds[0]}/artifacts/reports/summary.txt`,
      { data: "hello from the artifact store\n" },
    );
    expect(put.ok()).toBeTruthy();
  });

  test("filter runs with a search expression, then sort by a metric", async ({ page }) => {
    await page.goto(`/experiments/${experimentId}`);
    await waitForHydration(page);
    const rows = page.locator("#runs-table tbody tr");
    await expect(rows).toHaveCount(6);

    await page.getByLabel("Filter runs").fill("metrics.acc > 0.6 AND params.model = 'cnn'");
    await page.getByRole("button", { name: "Search" }).click();
    await expect(rows).toHaveCount(2);
    await expect(rows.locator("td.name")).toHaveText(["run-5", "run-3"]);
    expect(new URL(page.url()).searchParams.get("q")).toBe("metrics.acc > 0.6 AND params.model = 'cnn'");

    // A refused filter is explained beside the box, and the page stays: its heading,
    // breadcrumb, search box and column picker.
    const heading = await page.locator("h1").textContent();
    await page.getByLabel("Filter runs").fill("metrics.acc >> 1");
    await page.getByRole("button", { name: "Search" }).click();
    await expect(page.getByRole("alert")).toContainText("Expected a value");
    await expect(page.locator("h1")).toHaveText(heading ?? "");
    expect(heading).toMatch(/^pw-/);
    await expect(page.locator("a.crumb", { hasText: "Experiments" })).toBeVisible();
    await expect(page.getByLabel("Filter runs")).toHaveValue("metrics.acc >> 1");
    await expect(page.locator("details.columns")).toBeVisible();

    // Clear the filter, sort by acc: descending first, then ascending.
    await page.goto(`/experiments/${experimentId}`);
    await waitForHydration(page);
    await page.locator('#runs-table th[data-column="metrics.acc"] a').click();
    await expect(rows.first().locator("td.name")).toHaveText("run-5");
    await page.locator('#runs-table th[data-column="metrics.acc"] a').click();
    await expect(rows.first().locator("td.name")).toHaveText("run-0");
    expect(new URL(page.url()).searchParams.get("sort")).toContain("ASC");

    // Attributes sort too: run name, descending first.
    await page.locator('#runs-table th[data-column="attributes.run_name"] a').click();
    await expect(rows.first().locator("td.name")).toHaveText("run-5");
  });

  test("pages through a large experiment with a keyset cursor", async ({ page, request }) => {
    const big = (await api(request, "experiments/create", { name: `pw-big-${Date.now()}` })).experiment_id;
    for (let i = 0; i < 105; i++) {
      await api(request, "runs/create", { experiment_id: big, run_name: `b-${String(i).padStart(3, "0")}`, start_time: T0 + i });
    }
    await page.goto(`/experiments/${big}`);
    await waitForHydration(page);
    const rows = page.locator("#runs-table tbody tr");
    await expect(rows).toHaveCount(100);
    await expect(rows.first().locator("td.name")).toHaveText("b-104");
    await page.locator("#next-page").click();
    await expect(rows).toHaveCount(5);
    await expect(rows.first().locator("td.name")).toHaveText("b-004");
    expect(new URL(page.url()).searchParams.get("after")).toMatch(/^\d+:[0-9a-f]{32}$/);
  });

  test("select three runs and compare them", async ({ page }) => {
    await page.goto(`/experiments/${experimentId}`);
    await waitForHydration(page);
    for (const [n, name] of ["run-1", "run-2", "run-4"].entries()) {
      await page.getByRole("checkbox", { name: `Select ${name}` }).check();
      await expect(page.locator("#runs-table tbody tr.selected")).toHaveCount(n + 1);
    }
    await page.locator("#compare-link").click();
    await expect(page.getByRole("heading", { name: "Compare runs" })).toBeVisible();
    await expect(page.locator('#compare-charts figure[data-metric="loss"] svg')).toBeVisible();
    await expect(page.locator('#compare-charts figure[data-metric="acc"] svg')).toBeVisible();
    await expect(page.locator("#parallel svg")).toBeVisible();
    await expect(page.locator("#scatter svg")).toBeVisible();

    const table = page.locator("#compare-table tbody tr");
    await expect(table.filter({ hasText: "seed" })).toHaveCount(1);
    await page.locator("#diff-toggle").click();
    await expect(table.filter({ hasText: "seed" })).toHaveCount(0);
    await expect(table.filter({ hasText: "lr" })).toHaveCount(1);
    expect(new URL(page.url()).searchParams.get("diff")).toBe("1");
  });

  test("open a run, see its charts and datasets, and preview an artifact", async ({ page }) => {
    await page.goto(`/runs/${runIds[0]}`);
    await waitForHydration(page);
    await expect(page.locator("#run-name")).toHaveText("run-0");
    await expect(page.locator('figure[data-metric="loss"] svg')).toBeVisible();
    const dataset = page.locator("#run-datasets tbody tr");
    await expect(dataset).toHaveCount(1);
    await expect(dataset).toContainText("churn-train");
    await expect(dataset).toContainText("training");
    await expect(dataset).toContainText("d41d8cd9");
    await page.getByRole("link", { name: "Log" }).click();
    await expect(page).toHaveURL(/log=1/);
    await expect(page.locator('figure[data-metric="loss"] svg')).toBeVisible();

    await page.locator("#artifacts").getByRole("link", { name: "reports/" }).click();
    await page.locator("#artifacts").getByRole("link", { name: "summary.txt" }).click();
    await expect(page.locator("#artifact-preview")).toContainText("hello from the artifact store");
    const download = page.locator("#artifacts a.download");
    const response = await page.request.get((await download.getAttribute("href")) ?? "");
    expect(response.status()).toBe(200);
    expect(await response.text()).toBe("hello from the artifact store\n");
  });

  test("a dataset chip in the runs table filters by that dataset", async ({ page }) => {
    await page.goto(`/experiments/${experimentId}`);
    await waitForHydration(page);
    await page.locator("#runs-table a.chip.dataset", { hasText: "churn-train (training)" }).click();
    await expect(page).toHaveURL(/datasets\.name/);
    await expect(page.locator("#run-filter")).toHaveValue("datasets.name = 'churn-train'");
    await expect(page.locator("#runs-table tbody tr")).toHaveCount(1);
    await expect(page.locator("#runs-table tbody tr .name")).toHaveText("run-0");
  });
});
