const { chromium } = require('@playwright/test');
(async () => {
  const [url, out, w, h] = process.argv.slice(2);
  const b = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox','--disable-gpu','--disable-background-networking','--disable-component-update','--disable-sync','--no-first-run','--disable-quic'] });
  const p = await b.newPage({ viewport: { width: +(w||1280), height: +(h||800) } });
  p.on('console', m => { if (m.type() === 'error') console.log('console error:', m.text()); });
  await p.goto(url);
  await p.locator('body[data-hydrated="true"]').waitFor({ state: 'attached', timeout: 15000 }).catch(() => console.log('not hydrated'));
  await p.screenshot({ path: out, fullPage: false });
  await b.close();
})();
