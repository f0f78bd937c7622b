import { expect, test, type Browser, type BrowserContext } from "@playwright/test";

const adminPassword = process.env.AIOPS_ADMIN_PASSWORD ?? "";
const basic = (user: string, password: string) =>
  "Basic " + Buffer.from(`${user}:${password}`).toString("base64");

/** A browser context with no credentials of its own: it signs in through the form. */
async function fresh(browser: Browser, baseURL: string | undefined): Promise<BrowserContext> {
  return browser.newContext({ baseURL, extraHTTPHeaders: {} });
}

async function signIn(context: BrowserContext, user: string, password: string) {
  const page = await context.newPage();
  await page.goto("/experiments");
  await expect(page).toHaveURL(/\/login\?next=/);
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await page.getByLabel("Username").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  return page;
}

test("sign in, see who is signed in, sign out", async ({ browser, baseURL }) => {
  const context = await fresh(browser, baseURL);
  const page = await signIn(context, "admin", adminPassword);
  await expect(page).toHaveURL(/\/experiments$/);
  await expect(page.getByTestId("signed-in-user")).toHaveText("admin");
  const cookie = (await context.cookies()).find((c) => c.name === "aiops_session");
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe("Lax");
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/experiments");
  await expect(page).toHaveURL(/\/login\?next=/);
  await context.close();
});

test("a wrong password is explained", async ({ browser, baseURL }) => {
  const context = await fresh(browser, baseURL);
  const page = await signIn(context, "admin", "not-the-password");
  await expect(page.getByRole("alert")).toContainText("username or password is incorrect");
  await expect(page).toHaveURL(/\/login/);
  await context.close();
});

test("an editor finds no admin controls, and a forged admin call is refused", async ({ browser, baseURL, request }) => {
  const name = `editor-${Date.now()}`;
  const created = await request.post("/api/2.0/mlflow/users/create", {
    data: { username: name, password: "editor-password-1" },
  });
  expect(created.status()).toBe(200);
  const context = await fresh(browser, baseURL);
  const page = await signIn(context, name, "editor-password-1");
  await expect(page.getByTestId("signed-in-user")).toHaveText(name);
  await expect(page.getByRole("link", { name: "Admin" })).toHaveCount(0);
  await page.goto("/admin");
  await expect(page.getByTestId("admin-refused")).toContainText("only administrators");
  await expect(page.getByRole("button", { name: "Add user" })).toHaveCount(0);
  // The same session, calling the admin server function by hand.
  const forged = await page.request.post("/_app/add_user", {
    form: { username: `forged-${Date.now()}`, password: "forged-password-1" },
    headers: { Origin: new URL(baseURL ?? "").origin },
  });
  expect(forged.status()).toBe(403);
  expect((await forged.json()).error_code).toBe("PERMISSION_DENIED");
  const list = await request.get("/api/2.0/mlflow/users/list");
  expect(JSON.stringify(await list.json())).not.toContain("forged-");
  await context.close();
});

test("a cross-site POST is refused", async ({ browser, baseURL }) => {
  const context = await fresh(browser, baseURL);
  await signIn(context, "admin", adminPassword);
  const response = await context.request.post("/_app/create_experiment", {
    form: { name: `cross-${Date.now()}` },
    headers: { Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" },
  });
  expect(response.status()).toBe(403);
  await context.close();
});

test("pages accept Basic credentials without the form", async ({ browser, baseURL }) => {
  const context = await browser.newContext({
    baseURL,
    extraHTTPHeaders: { Authorization: basic("admin", adminPassword) },
  });
  const page = await context.newPage();
  await page.goto("/experiments");
  await expect(page).toHaveURL(/\/experiments$/);
  await expect(page.getByTestId("signed-in-user")).toHaveText("admin");
  await context.close();
});

test("an access token is made on the account page, shown once, used and revoked", async ({ page, playwright, baseURL }) => {
  await page.goto("/account");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  const name = `ci-${Date.now()}`;
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Create token" }).click();
  const token = (await page.getByTestId("new-token").locator("code").textContent()) ?? "";
  expect(token).toMatch(/^aiops_[0-9a-f]{64}$/);
  const bare = await playwright.request.newContext({ baseURL, extraHTTPHeaders: {} });
  const asToken = () =>
    bare.get("/api/2.0/mlflow/users/current", { headers: { Authorization: `Bearer ${token}` } });
  expect((await asToken()).status()).toBe(200);
  const row = page.getByRole("row", { name: new RegExp(name) });
  await expect(row).toBeVisible();
  await page.reload();
  await expect(page.getByTestId("new-token")).toHaveCount(0);
  await page.getByRole("row", { name: new RegExp(name) }).getByRole("button", { name: "Revoke" }).click();
  await expect(page.getByRole("row", { name: new RegExp(name) })).toHaveCount(0);
  expect((await asToken()).status()).toBe(401);
  await bare.dispose();
});
