// Helpers for the serving specs: registered models whose versions hold fixture ONNX files.
import { expect } from "@playwright/test";
import { readFileSync } from "fs";
import { join } from "path";

const fixture = (name: string) => readFileSync(join(__dirname, "..", "..", "predictor", "fixtures", `${name}.onnx`));

/** A registered model whose versions hold the given fixture ONNX files (and, when given,
 * MLflow's input_example.json beside each). */
export async function modelWith(
  request: import("@playwright/test").APIRequestContext,
  fixtures: string[],
  example?: object,
) {
  const api = "/api/2.0/mlflow";
  const exp = await (await request.post(`${api}/experiments/create`, { data: { name: `deploy-${Date.now()}` } })).json();
  const name = `served-${Date.now()}`;
  expect((await request.post(`${api}/registered-models/create`, { data: { name } })).status()).toBe(200);
  for (const f of fixtures) {
    const run = await (await request.post(`${api}/runs/create`, { data: { experiment_id: exp.experiment_id } })).json();
    const runId = run.run.info.run_id;
    const folder = `/api/2.0/mlflow-artifacts/artifacts/${exp.experiment_id}/${runId}/artifacts/model`;
    expect((await request.put(`${folder}/model.onnx`, { data: fixture(f) })).status()).toBe(200);
    if (example) {
      const put = await request.put(`${folder}/input_example.json`, { data: JSON.stringify(example) });
      expect(put.status()).toBe(200);
    }
    const v = await request.post(`${api}/model-versions/create`, { data: { name, source: `runs:/${runId}/model`, run_id: runId } });
    expect(v.status()).toBe(200);
  }
  return name;
}

/** Deploys `model` at `target` (a version, a stage or @alias) from the deployments page and
 * waits for READY; returns the deployment's row. */
export async function deployOnPage(page: import("@playwright/test").Page, model: string, target: string) {
  await page.goto("/deployments");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Deployment name").fill(model);
  await page.getByLabel("Registered model").fill(model);
  await page.getByLabel("Version, stage or alias").fill(target);
  await page.getByRole("button", { name: "Deploy", exact: true }).click();
  const row = page.locator(`tr[data-deployment="${model}"]`);
  await expect(row.getByTestId("status")).toHaveText("READY");
  return row;
}
