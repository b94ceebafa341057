// Drives Debian's Chromium for the dashboard tests with playwright-core (no browser download):
//
//   node tests/dashboard/drive.js --chromium /usr/bin/chromium
//
// reads one JSON command a line on stdin, {"id": 1, "op": "goto", "page": "p1", "url": "..."},
// and answers each with one line on stdout, {"id": 1, "ok": true, "value": ...} or
// {"id": 1, "ok": false, "error": "..."}. Contexts are separate browsers' worth of cookies;
// one may carry an injected wallet (window.ethereum) that signs with a key held here.
'use strict';

const readline = require('node:readline');
const { chromium } = require('playwright-core');
const { Wallet, getBytes } = require('ethers');

const STEP_TIMEOUT = 20000;

function option(name) {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
}

// What a wallet extension injects: accounts and personal_sign, answered by the key on this side.
function walletScript(address) {
  return `(() => {
    const address = ${JSON.stringify(address.toLowerCase())};
    window.ethereum = {
      isProvledgerTestWallet: true,
      async request({ method, params }) {
        if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [address];
        if (method === 'personal_sign') return window.__provledgerWalletSign(params[0], params[1]);
        throw Object.assign(new Error('unsupported method ' + method), { code: 4200 });
      },
    };
  })();`;
}

async function main() {
  const executablePath = option('--chromium');
  if (!executablePath) throw new Error('give --chromium PATH');
  // The sandbox needs user namespaces, which a root or container session may not have.
  const browser = await chromium.launch({ executablePath, headless: true, chromiumSandbox: false });
  const contexts = new Map();
  const pages = new Map();
  const problems = new Map();
  let count = 0;

  const page = (id) => {
    const found = pages.get(id);
    if (!found) throw new Error(`no page ${id}`);
    return found;
  };

  const ops = {
    async context({ width, height, wallet }) {
      const context = await browser.newContext({ viewport: { width, height } });
      context.setDefaultTimeout(STEP_TIMEOUT);
      if (wallet) {
        const signer = new Wallet(wallet);
        await context.exposeBinding('__provledgerWalletSign', async (source, message, address) => {
          if (address.toLowerCase() !== signer.address.toLowerCase()) throw new Error('not this wallet\'s account');
          return signer.signMessage(typeof message === 'string' && message.startsWith('0x') ? getBytes(message) : message);
        });
        await context.addInitScript({ content: walletScript(signer.address) });
      }
      const id = `c${++count}`;
      contexts.set(id, context);
      return id;
    },
    async page({ context }) {
      const created = await contexts.get(context).newPage();
      const id = `p${++count}`;
      pages.set(id, created);
      problems.set(id, []);
      created.on('pageerror', (err) => problems.get(id).push(`page error: ${err.message}`));
      // A page's own status is the test's to check; a script, sheet or stream that fails is a problem.
      created.on('console', (msg) => {
        if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) {
          problems.get(id).push(`console error: ${msg.text()}`);
        }
      });
      created.on('response', (response) => {
        if (response.status() >= 400 && response.request().resourceType() !== 'document') {
          problems.get(id).push(`${response.status()} for ${response.url()}`);
        }
      });
      return id;
    },
    async goto({ page: id, url }) {
      const response = await page(id).goto(url, { waitUntil: 'load' });
      return { status: response ? response.status() : null, url: page(id).url() };
    },
    async fill({ page: id, selector, value }) {
      await page(id).locator(selector).fill(value);
    },
    async click({ page: id, selector, navigates }) {
      const target = page(id);
      if (navigates) {
        await Promise.all([target.waitForNavigation({ waitUntil: 'load' }), target.locator(selector).click()]);
      } else {
        await target.locator(selector).click();
      }
      return target.url();
    },
    async text({ page: id, selector }) {
      return page(id).locator(selector).first().innerText();
    },
    async texts({ page: id, selector }) {
      return page(id).locator(selector).allInnerTexts();
    },
    async attribute({ page: id, selector, name }) {
      return page(id).locator(selector).first().getAttribute(name);
    },
    async count({ page: id, selector }) {
      return page(id).locator(selector).count();
    },
    async wait({ page: id, selector, text, ms }) {
      const locator = text ? page(id).locator(selector, { hasText: text }) : page(id).locator(selector);
      await locator.first().waitFor({ state: 'visible', timeout: ms || STEP_TIMEOUT });
    },
    async evaluate({ page: id, expression }) {
      return page(id).evaluate(expression);
    },
    async url({ page: id }) {
      return page(id).url();
    },
    async resize({ page: id, width, height }) {
      await page(id).setViewportSize({ width, height });
    },
    async screenshot({ page: id, path }) {
      await page(id).screenshot({ path, fullPage: true });
      return path;
    },
    async problems({ page: id }) {
      return problems.get(id).splice(0);
    },
    async closePage({ page: id }) {
      await page(id).close();
      pages.delete(id);
    },
    async closeContext({ context }) {
      await contexts.get(context).close();
      contexts.delete(context);
    },
  };

  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let command;
    try {
      command = JSON.parse(line);
      if (command.op === 'quit') break;
      const run = ops[command.op];
      if (!run) throw new Error(`unknown op ${command.op}`);
      const value = await run(command);
      process.stdout.write(JSON.stringify({ id: command.id, ok: true, value: value === undefined ? null : value }) + '\n');
    } catch (err) {
      const id = command ? command.id : null;
      process.stdout.write(JSON.stringify({ id, ok: false, error: String(err && err.message ? err.message : err) }) + '\n');
    }
  }
  await browser.close();
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(`drive.js: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
