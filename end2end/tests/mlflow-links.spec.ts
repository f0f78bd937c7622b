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
  // A page's own anchors are not MLflow routes: no redirect.
  await page.goto("/experiments#top");
  await expect(page.locator('body[data-hydrated="true"]')).toBeAttached();
  await expect(page).toHaveURL(/\/experiments#top$/);
});
