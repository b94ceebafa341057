// provledger dashboard: sign-in with an injected wallet, and the live usage stream.
// No framework: the pages are rendered by the node; this only adds what needs a script.
'use strict';

(function () {
  const base = document.body.dataset.base;
  const page = document.body.dataset.page;

  async function call(url, body) {
    const options = { credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      options.method = 'POST';
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) {
      throw new Error((answer.error && answer.error.message) || `${response.status} ${response.statusText}`);
    }
    return answer;
  }

  function utf8Hex(text) {
    return '0x' + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // Sign-In with Ethereum: the node's nonce, its EIP-4361 message, the wallet's signature, then
  // the token from /auth/siwe handed to the node to keep in an HttpOnly cookie.
  function walletSignIn() {
    const box = document.getElementById('wallet');
    const button = document.getElementById('wallet-sign-in');
    const status = document.getElementById('wallet-status');
    const wallet = window.ethereum;
    if (!wallet || typeof wallet.request !== 'function') {
      box.dataset.wallet = 'none';
      return;
    }
    box.dataset.wallet = 'present';
    button.hidden = false;
    button.addEventListener('click', async () => {
      button.disabled = true;
      status.textContent = 'Asking your wallet for the account…';
      try {
        const [account] = await wallet.request({ method: 'eth_requestAccounts' });
        const { nonce } = await call('/auth/nonce');
        const query = new URLSearchParams({ address: account, nonce });
        const { message } = await call(`${base}/siwe-message?${query}`);
        status.textContent = 'Sign the message in your wallet…';
        const signature = await wallet.request({ method: 'personal_sign', params: [utf8Hex(message), account] });
        const { token } = await call('/auth/siwe', { message, signature });
        const { next } = await call(`${base}/session`, { token, next: box.dataset.next });
        status.textContent = 'Signed in.';
        window.location.assign(next);
      } catch (err) {
        status.textContent = `Sign-in failed: ${err.message || err}`;
        button.disabled = false;
      }
    });
  }

  // A login link keeps its secret in the fragment, which the browser never sends with a request
  // (so it reaches no access log, proxy or Referer): the secret is posted, then dropped from the address bar.
  async function linkSignIn() {
    const secret = window.location.hash.slice(1);
    window.history.replaceState(null, '', window.location.pathname);
    const status = document.getElementById('login-status');
    const error = document.getElementById('sign-in-error');
    try {
      if (!secret) throw new Error('This link carries no secret. Run provledger login again for a new one.');
      const { next } = await call(`${base}/login`, { secret });
      window.location.replace(next);
    } catch (err) {
      status.textContent = '';
      error.textContent = err.message || String(err);
      error.hidden = false;
    }
  }

  function when(seconds) {
    if (seconds === null || seconds === undefined) return '-';
    return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  }

  function short(value) {
    if (!value) return '-';
    if (/^0x[0-9a-fA-F]{64}$/.test(value)) return `${value.slice(0, 8)}…${value.slice(-6)}`;
    if (/^0x[0-9a-fA-F]{40}$/.test(value)) return `${value.slice(0, 6)}…${value.slice(-4)}`;
    return value;
  }

  function cell(label, text, title) {
    const td = document.createElement('td');
    td.dataset.label = label;
    td.textContent = text;
    if (title) {
      td.title = title;
      td.className = 'hash';
    }
    return td;
  }

  function badge(ok, text) {
    const span = document.createElement('span');
    span.className = `badge ${ok ? 'ok' : 'fail'}`;
    span.textContent = text;
    return span;
  }

  // The live stream: each use the node indexes arrives as an event and goes on top of the table.
  function liveUses() {
    const table = document.getElementById('uses');
    const live = document.getElementById('live');
    const body = table.tBodies[0];
    const source = new EventSource(`${base}/stream/uses?after=${encodeURIComponent(table.dataset.after)}`);
    source.addEventListener('open', () => {
      live.dataset.state = 'live';
      live.textContent = 'Live: new uses appear here as the node indexes them.';
    });
    source.addEventListener('error', () => {
      live.dataset.state = 'reconnecting';
      live.textContent = 'The live stream was interrupted; reconnecting…';
    });
    source.addEventListener('use', (message) => {
      const use = JSON.parse(message.data);
      if (body.querySelector(`tr[data-event="${use.id}"]`)) return;
      const none = body.querySelector('tr.none');
      if (none) none.remove();
      const row = document.createElement('tr');
      row.dataset.event = use.id;
      row.className = `fresh${use.refused ? ' fail' : ''}`;
      const result = cell('Result', '');
      result.append(use.refused ? badge(false, `refused: ${use.refused.replace(/_/g, ' ')}`)
        : badge(true, `recorded #${use.sequence}`));
      row.append(cell('When', when(use.block_time)), cell('Action', use.action), result,
        cell('Grant', short(use.grant_id), use.grant_id), cell('Consumer', short(use.consumer), use.consumer || ''),
        cell('Block', String(use.block_number)));
      body.prepend(row);
    });
    window.addEventListener('pagehide', () => source.close());
  }

  if (page === 'sign-in') walletSignIn();
  if (page === 'login') linkSignIn();
  if (page === 'monitor') liveUses();
})();
