import { expect, test } from "@playwright/test";
import { deployOnPage, modelWith } from "./serving";

test("an admin deploys the Production version, redeploys, rolls back and undeploys", async ({ page, request }) => {
  const model = await modelWith(request, ["iris_logreg", "iris_forest"]);
  const t = await request.post("/api/2.0/mlflow/model-versions/transition-stage", {
    data: { name: model, version: "1", stage: "Production", archive_existing_versions: false },
  });
  expect(t.status()).toBe(200);
  const row = await deployOnPage(page, model, "Production");
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
