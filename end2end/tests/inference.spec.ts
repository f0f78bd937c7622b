import { expect, test } from "@playwright/test";
import { writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { deployOnPage, modelWith } from "./serving";

const example = {
  columns: ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
  data: [[6.7, 3.0, 5.2, 2.3]],
};

test("an admin deploys Production, predicts from the form, a JSON request and a CSV batch, and sees it on monitoring", async ({ page, request }) => {
  const model = await modelWith(request, ["iris_logreg"], example);
  const t = await request.post("/api/2.0/mlflow/model-versions/transition-stage", {
    data: { name: model, version: "1", stage: "Production", archive_existing_versions: false },
  });
  expect(t.status()).toBe(200);
  const row = await deployOnPage(page, model, "Production");

  // The form: one field per feature, named and prefilled from the version's example.
  await row.getByRole("link", { name: "Test" }).click();
  await expect(page).toHaveURL(new RegExp(`/inference\\?deployment=${model}`));
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByLabel("petal width (cm)")).toHaveValue("2.3");
  await page.getByRole("button", { name: "Predict" }).click();
  const result = page.locator("#inference-result");
  await expect(result.getByTestId("latency")).toContainText(/Server latency \d/);
  await expect(result.getByTestId("probabilities").locator(".bar-row")).toHaveCount(3);
  await expect(result.locator(".bar-row.best .bar-label")).toHaveText("class 2");
  await expect(result.locator('table[data-output="label"]')).toContainText("2");

  // A changed field changes the answer: a setosa flower.
  for (const [label, value] of [["sepal length (cm)", "5.1"], ["sepal width (cm)", "3.5"], ["petal length (cm)", "1.4"], ["petal width (cm)", "0.2"]]) {
    await page.getByLabel(label).fill(value);
  }
  await page.getByRole("button", { name: "Predict" }).click();
  await expect(result.locator(".bar-row.best .bar-label")).toHaveText("class 0");

  // The JSON editor starts with the example as a protocol request; a bad one is explained.
  const editor = page.locator("#inference-json");
  await expect(editor).toHaveValue(/"datatype": "FP32"/);
  await editor.fill('{"inputs": [{"name": "X", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}');
  await page.getByRole("button", { name: "Send JSON" }).click();
  await expect(page.getByRole("alert")).toContainText("does not fit");
  await editor.fill('{"inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3]}]}');
  await page.getByRole("button", { name: "Send JSON" }).click();
  await expect(result.locator('table[data-output="label"] tr')).toHaveCount(2);

  // A CSV batch with a header row.
  const csv = join(tmpdir(), `batch-${Date.now()}.csv`);
  writeFileSync(csv, "a,b,c,d\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n5.9,3.0,4.2,1.5\n");
  await page.locator("#inference-csv").setInputFiles(csv);
  await expect(result.locator('table[data-output="label"] tr')).toHaveCount(3);
  await expect(result.locator('table[data-output="probabilities"] tr')).toHaveCount(3);

  // Monitoring counts those calls (4 good, 1 refused) and refreshes by itself.
  await page.goto("/monitoring?minutes=5");
  const line = page.locator(`#monitoring-table tr[data-deployment="${model}"]`);
  await expect(line.getByTestId("requests")).toHaveText("5");
  await expect(line).toContainText("1 (20");
  const more = await request.post(`/v2/models/${model}/infer`, {
    data: { inputs: [{ name: "X", shape: [1, 4], datatype: "FP32", data: [5.1, 3.5, 1.4, 0.2] }] },
  });
  expect(more.status()).toBe(200);
  await expect(line.getByTestId("requests")).toHaveText("6", { timeout: 20_000 });
  await expect(page.locator(".chart-grid svg")).toHaveCount(2);
});
