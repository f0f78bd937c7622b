import { expect, test } from "@playwright/test";

const basic = (user: string, password: string) =>
  "Basic " + Buffer.from(`${user}:${password}`).toString("base64");

/** A model with two versions, version 1 in Production. */
async function modelWithTwoVersions(request: import("@playwright/test").APIRequestContext) {
  const api = "/api/2.0/mlflow";
  const exp = await (await request.post(`${api}/experiments/create`, { data: { name: `models-${Date.now()}` } })).json();
  const run = await (await request.post(`${api}/runs/create`, { data: { experiment_id: exp.experiment_id } })).json();
  const runId = run.run.info.run_id;
  const name = `churn-${Date.now()}`;
  expect((await request.post(`${api}/registered-models/create`, { data: { name } })).status()).toBe(200);
  for (let i = 0; i < 2; i++) {
    const v = await request.post(`${api}/model-versions/create`, {
      data: { name, source: `runs:/${runId}/model`, run_id: runId },
    });
    expect(v.status()).toBe(200);
  }
  const t = await request.post(`${api}/model-versions/transition-stage`, {
    data: { name, version: "1", stage: "Production", archive_existing_versions: false },
  });
  expect(t.status()).toBe(200);
  return name;
}

test("an admin promotes version 2 over version 1 through the dialog", async ({ page, request }) => {
  const name = await modelWithTwoVersions(request);
  await page.goto("/models");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByRole("link", { name }).click();
  await expect(page).toHaveURL(new RegExp(`/models/${name}$`));
  const v1 = page.locator('tr[data-version="1"]');
  const v2 = page.locator('tr[data-version="2"]');
  await expect(v1.getByTestId("stage")).toHaveText("Production");
  await v2.getByRole("button", { name: "Production" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("Move version 2 to Production?");
  await expect(dialog.getByTestId("promote-consequence")).toHaveText("Version 1 will be archived.");
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await expect(v2.getByTestId("stage")).toHaveText("Production");
  await expect(v1.getByTestId("stage")).toHaveText("Archived");
  const history = page.locator("#audit-table tbody tr").first();
  await expect(history).toContainText("admin");
  await expect(history).toContainText("stage transitioned");
  await expect(page.locator("#audit-table")).toContainText("v1 stage transitioned: Production → Archived");
});

test("an editor sees the stages but no promotion controls", async ({ browser, baseURL, request }) => {
  const name = await modelWithTwoVersions(request);
  const user = `model-editor-${Date.now()}`;
  expect((await request.post("/api/2.0/mlflow/users/create", { data: { username: user, password: "editor-password-1" } })).status()).toBe(200);
  const grant = await request.post("/api/3.0/mlflow/users/permissions/grant", {
    data: { username: user, resource_type: "registered_model", resource_id: name, permission: "EDIT" },
  });
  expect(grant.status()).toBe(200);
  const context = await browser.newContext({ baseURL, extraHTTPHeaders: { Authorization: basic(user, "editor-password-1") } });
  const page = await context.newPage();
  await page.goto(`/models/${name}`);
  await expect(page.locator('tr[data-version="1"]').getByTestId("stage")).toHaveText("Production");
  await expect(page.getByTestId("promotion-note")).toBeVisible();
  await expect(page.getByRole("button", { name: "Production" })).toHaveCount(0);
  const forged = await page.request.post("/_app/promote_version", {
    form: { name, version: "2", stage: "Production" },
    headers: { Origin: new URL(baseURL ?? "").origin },
  });
  expect(forged.status()).toBe(403);
  await context.close();
});

test("a model's description, tags, versions, files and signature; registering from a run", async ({ page, request }) => {
  const api = "/api/2.0/mlflow";
  const exp = await (await request.post(`${api}/experiments/create`, { data: { name: `register-${Date.now()}` } })).json();
  const run = await (await request.post(`${api}/runs/create`, { data: { experiment_id: exp.experiment_id } })).json();
  const runId = run.run.info.run_id;
  const root = `/api/2.0/mlflow-artifacts/artifacts/${exp.experiment_id}/${runId}/artifacts/model`;
  const mlmodel = "flavors:\n  sklearn: {}\nsignature:\n  inputs: '[{\"type\": \"double\", \"name\": \"x\"}]'\n  outputs: '[{\"type\": \"long\"}]'\nmlflow_version: 3.17.2\n";
  expect((await request.put(`${root}/MLmodel`, { data: mlmodel })).status()).toBe(200);
  expect((await request.put(`${root}/model.pkl`, { data: "bytes" })).status()).toBe(200);
  const log = await request.post(`${api}/runs/log-batch`, {
    data: { run_id: runId, metrics: [{ key: "auc", value: 0.93, timestamp: 1, step: 0 }], params: [{ key: "C", value: "0.5" }] },
  });
  expect(log.status()).toBe(200);

  // Register the run's model folder from the run page.
  const name = `from-run-${Date.now()}`;
  await page.goto(`/runs/${runId}?path=model`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.locator("#artifacts").getByLabel("Model name").fill(name);
  await page.getByRole("button", { name: "Register model" }).click();
  await page.getByRole("link", { name: `Registered ${name} version 1` }).click();
  await expect(page).toHaveURL(new RegExp(`/models/${name}/versions/1$`));
  await expect(page.locator("#version-signature")).toContainText("inputs:");
  await expect(page.locator("#version-files")).toContainText("model.pkl");
  await expect(page.locator("#version-run")).toContainText("auc");
  await expect(page.locator("#version-run")).toContainText("0.5");
  const file = await request.get(`/model-versions/get-artifact?name=${name}&version=1&path=MLmodel`);
  expect(await file.text()).toBe(mlmodel);

  // The model page: edit the description and a tag; compare two versions' runs.
  expect((await request.post(`${api}/model-versions/create`, { data: { name, source: `runs:/${runId}/model`, run_id: runId } })).status()).toBe(200);
  await page.goto(`/models/${name}`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.locator('tr[data-version="1"]')).toContainText("auc 0.93");
  await page.locator("textarea#model-description").fill("Predicts churn from usage.");
  await page.getByRole("button", { name: "Save description" }).click();
  await page.getByLabel("Tag key").fill("team");
  await page.getByLabel("Tag value").fill("growth");
  await page.getByRole("button", { name: "Set tag" }).click();
  await expect(page.locator("#model-tags")).toContainText("team = growth");
  await page.reload();
  await expect(page.locator("textarea#model-description")).toHaveValue("Predicts churn from usage.");
  await page.getByLabel("Compare version 1").check();
  await page.getByLabel("Compare version 2").check();
  await expect(page.locator("#compare-versions")).toHaveAttribute("href", `/compare?runs=${runId}`);
  await expect(page.locator("#deliveries-empty")).toBeVisible();

  // The models list searches by name or by filter, and shows tags.
  await page.goto(`/models?q=${encodeURIComponent("tags.team = 'growth'")}`);
  await expect(page.locator("#models-table")).toContainText(name);
  await expect(page.locator("#models-table")).toContainText("team=growth");
  await page.goto(`/models?q=${encodeURIComponent(name.slice(0, 12).toUpperCase())}`);
  await expect(page.locator("#models-table")).toContainText(name);
  await page.goto(`/models?q=${encodeURIComponent("no-such-model-anywhere")}`);
  await expect(page.getByText("No model matches this search.")).toBeVisible();
});

test("a logged model is registered from its run's page", async ({ page, request }) => {
  const api = "/api/2.0/mlflow";
  const exp = await (await request.post(`${api}/experiments/create`, { data: { name: `logged-${Date.now()}` } })).json();
  const run = await (await request.post(`${api}/runs/create`, { data: { experiment_id: exp.experiment_id } })).json();
  const runId = run.run.info.run_id;
  const model = await (await request.post(`${api}/logged-models`, {
    data: { experiment_id: exp.experiment_id, name: "clf", source_run_id: runId },
  })).json();
  const modelId = model.model.info.model_id;
  expect((await request.post(`${api}/runs/outputs`, { data: { run_id: runId, models: [{ model_id: modelId, step: 0 }] } })).status()).toBe(200);
  const name = `logged-${Date.now()}`;
  await page.goto(`/runs/${runId}`);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const row = page.locator("#run-models tbody tr").first();
  await row.getByLabel("Model name").fill(name);
  await row.getByRole("button", { name: "Register model" }).click();
  await page.getByRole("link", { name: `Registered ${name} version 1` }).click();
  await expect(page.locator("#version-summary")).toContainText(`models:/${modelId}`);
});
