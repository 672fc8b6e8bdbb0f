/**
 * A real headless browser for end-to-end login tests: Debian's chromium driven by playwright-core (no
 * downloaded browser). `.ci/run` installs the `chromium` package when it is missing.
 */
import {existsSync} from 'node:fs'

import {chromium, type Browser, type Page} from 'playwright-core'

/** Where Debian installs chromium; CHROMIUM_PATH overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** True when the browser exists, so a test can say clearly why it cannot run. */
export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH)
}

/** Launches headless chromium with everything that phones home switched off. */
export async function launchBrowser(): Promise<Browser> {
  if (!chromiumAvailable()) {
    throw new Error(
      `chromium not found at ${CHROMIUM_PATH}: run \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`,
    )
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

/** Signs in on the dev identity provider's login form (username and password fields, then "Sign in"). */
export async function signInOnDevIdp(page: Page, username: string, password: string): Promise<void> {
  await page.locator('input[name="username"]').fill(username)
  await page.locator('input[name="password"]').fill(password)
  await Promise.all([
    page.waitForLoadState('load'),
    page.locator('button[type="submit"][value="login"]').click(),
  ])
}

/** The visible text of a page's body, whitespace collapsed: what a user reads. */
export async function pageText(page: Page): Promise<string> {
  const text = await page.locator('body').innerText()
  return text.replace(/\s+/g, ' ').trim()
}
