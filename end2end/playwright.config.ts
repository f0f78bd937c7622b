import { defineConfig } from "@playwright/test";

// The server under test is started by scripts/test.sh, which passes its address.
const baseURL = process.env.AIOPS_BASE_URL ?? "http://127.0.0.1:3000";
// Every page also accepts Basic credentials, so most tests browse as the admin without the
// login form; the sign-in tests open contexts of their own without this header.
const adminPassword = process.env.AIOPS_ADMIN_PASSWORD ?? "";
export const adminAuthorization =
  "Basic " + Buffer.from(`admin:${adminPassword}`).toString("base64");

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  // The base-path spec runs against a second server, started with `--base-path /aiops`.
  // The dashboard spec runs twice, at a desktop's and at a phone's size.
  projects: [
    { name: "root", testIgnore: /(base-path|dashboard)\.spec\.ts/ },
    { name: "base-path", testMatch: /base-path\.spec\.ts/ },
    { name: "desktop", testMatch: /dashboard\.spec\.ts/, use: { viewport: { width: 1440, height: 900 } } },
    { name: "phone", testMatch: /dashboard\.spec\.ts/, use: { viewport: { width: 390, height: 844 } } },
  ],
  use: {
    baseURL,
    trace: "off",
    extraHTTPHeaders: { Authorization: adminAuthorization },
    launchOptions: {
      // Debian's Chromium: tests never download a browser of their own.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
      ],
    },
  },
});
