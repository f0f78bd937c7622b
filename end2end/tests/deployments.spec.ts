import { expect, test } from "@playwright/test";
import { readFileSync } from "fs";
import { join } from "path";

const fixture = (name: string) => readFileSync(join(__dirname, "..", "..", "predictor", "fixtures", `${name}.onnx`));

/** A registered model whose versions hold the given fixture ONNX files. */
async function modelWith(request: import("@playwright/test").APIRequestContext, fixtures: string[]) {
  const api = "/api/2.0/mlflow";
  const exp = await (await request.post(`${api}/experiments/create`, { data: { name: `deploy-${Date.now()}` } })).json();
  const name = `served-${Date.now()}`;
  expect((await request.post(`${api}/registered-models/create`, { data: { name } })).status()).toBe(200);
  for (const f of fixtures) {
    const run = await (await request.post(`${api}/runs/create`, { data: { experiment_id: exp.experiment_id } })).json();
    const runId = run.run.info.run_id;
    const put = await request.put(`/api/2.0/mlflow-artifacts/artifacts/${exp.experiment_id}/${runId}/artifacts/model/model.onnx`, {
      data: fixture(f),
    });
    expect(put.status()).toBe(200);
    const v = await request.post(`${api}/model-versions/create`, { data: { name, source: `runs:/${runId}/model`, run_id: runId } });
    expect(v.status()).toBe(200);
  }
  return name;
}

test("an admin deploys the Production version, redeploys, rolls back and undeploys", async ({ page, request }) => {
  const model = await modelWith(request, ["iris_logreg", "iris_forest"]);
  const t = await request.post("/api/2.0/mlflow/model-versions/transition-stage", {
    data: { name: model, version: "1", stage: "Production", archive_existing_versions: false },
  });
  expect(t.status()).toBe(200);
  await page.goto("/deployments");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Deployment name").fill(model);
  await page.getByLabel("Registered model").fill(model);
  await page.getByLabel("Version, stage or alias").fill("Production");
  await page.getByRole("button", { name: "Deploy", exact: true }).click();
  const row = page.locator(`tr[data-deployment="${model}"]`);
  await expect(row.getByTestId("status")).toHaveText("READY");
  await expect(row).toContainText("stage Production");
  const infer = await request.post(`/v2/models/${model}/infer`, {
    data: { inputs: [{ name: "X", shape: [1, 4], datatype: "FP32", data: [5.1, 3.5, 1.4, 0.2] }] },
  });
  expect(infer.status()).toBe(200);
  expect((await infer.json()).outputs[0].data).toEqual([0]);

  await page.getByLabel("Deployment name").fill(model);
  await page.getByLabel("Registered model").fill(model);
  await page.getByLabel("Version, stage or alias").fill("2");
  await page.getByRole("button", { name: "Deploy", exact: true }).click();
  await expect(row).toContainText("pinned");
  await expect(row).toContainText("v2");
  await row.getByRole("button", { name: "Roll back to v1" }).click();
  await expect(row.locator("td").nth(2)).toHaveText("v1");
  await row.getByRole("button", { name: "Undeploy" }).click();
  await expect(row).toHaveCount(0);
  expect((await request.get(`/v2/models/${model}`)).status()).toBe(404);
});
