// The console's only script: live fragments from server-sent events,
// countdowns, local times, the alarm (Web Audio, no sound file), and the
// forms. Everything it shows comes from the server already escaped.
'use strict';
(function () {
  const body = document.body;
  const T = JSON.parse(body.dataset.i18n || '{}');
  const fmt = (s, ...a) => { let i = 0; return String(s || '').replace(/%[sd]/g, () => a[i++]); };
  const pad = (n) => String(n).padStart(2, '0');
  const clock = (ms) => {
    let s = Math.round(ms / 1000);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    s %= 60;
    return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  };
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  function toast(msg, isError) {
    const t = $('#toast');
    if (!t) return;
    t.textContent = msg;
    t.className = isError ? 'error' : '';
  }

  // A local time written the same way in every language and locale,
  // 24-hour, with its offset: 2026-12-07 18:29:25 UTC+08:00.
  function localTime(d) {
    const p = (n) => String(n).padStart(2, '0');
    const off = -d.getTimezoneOffset(), a = Math.abs(off);
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + ' ' +
      p(d.getHours()) + ':' + p(d.getMinutes()) + ':' + p(d.getSeconds()) +
      ' UTC' + (off < 0 ? '−' : '+') + p(Math.floor(a / 60)) + ':' + p(a % 60);
  }

  // Times: UTC as drawn by the server, local time beside.
  function enhance(root) {
    $$('time[datetime]', root).forEach((t) => {
      if (t.dataset.local) return;
      const d = new Date(t.getAttribute('datetime'));
      if (isNaN(d)) return;
      t.dataset.local = '1';
      const span = document.createElement('span');
      span.className = 'local';
      span.textContent = ' (' + fmt(T.local_time, localTime(d)) + ')';
      t.after(span);
    });
    tick(root);
    if (view.s !== 1) mapView();
  }
  // Countdowns run on this browser's clock between updates from the station.
  function tick(root) {
    const now = Date.now();
    $$('[data-due]', root).forEach((el) => {
      const d = Date.parse(el.dataset.due) - now;
      el.textContent = d >= 0 ? fmt(T.due_in, clock(d)) : fmt(T.overdue_by, clock(-d));
      el.classList.toggle('late', d < 0);
    });
  }

  async function post(url, data, raw) {
    const r = await fetch(url, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' },
      body: raw !== undefined ? raw : JSON.stringify(data || {}),
    });
    let out = {};
    try { out = await r.json(); } catch (e) { /* not JSON */ }
    if (r.status === 401 && !url.endsWith('/login')) {
      location.href = '/console/login';
      throw new Error(T.session_over);
    }
    if (!r.ok) throw new Error(out.error || r.statusText);
    return out;
  }

  // The alarm: two tones repeated while an urgent message waits.
  const alarm = {
    ctx: null, timer: null,
    context() {
      if (!this.ctx) {
        const AC = window.AudioContext || window.webkitAudioContext;
        if (!AC) return null;
        this.ctx = new AC();
        this.ctx.onstatechange = soundState;
      }
      if (this.ctx.state === 'suspended') this.ctx.resume().catch(() => {});
      return this.ctx;
    },
    beep() {
      const c = this.context();
      if (!c) return;
      const t = c.currentTime;
      [[0, 880], [0.3, 660]].forEach(([d, f]) => {
        const o = c.createOscillator(), g = c.createGain();
        o.type = 'square';
        o.frequency.value = f;
        g.gain.setValueAtTime(0.0001, t + d);
        g.gain.exponentialRampToValueAtTime(0.25, t + d + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, t + d + 0.25);
        o.connect(g).connect(c.destination);
        o.start(t + d);
        o.stop(t + d + 0.27);
      });
      if (c.state === 'running') body.dataset.beeps = String(Number(body.dataset.beeps || 0) + 1);
      soundState();
    },
    start() {
      body.dataset.alarm = 'on';
      if (this.timer) return;
      this.beep();
      this.timer = setInterval(() => this.beep(), 1500);
    },
    stop() {
      body.dataset.alarm = 'off';
      clearInterval(this.timer);
      this.timer = null;
    },
  };
  // Browsers start audio only after a person has touched the page, or
  // the page they came from by a link of the same site (so a console
  // logged into can sound from its first page on); a page reloaded or
  // opened by its address cannot until someone touches it. A console
  // that cannot sound says so with a standing banner and in the tab's
  // title until a key or a click turns the sound on.
  function soundState() {
    const c = alarm.ctx, off = !c || c.state !== 'running';
    body.dataset.sound = c ? c.state : 'none';
    const banner = $('#sound-off');
    if (banner) banner.hidden = !off;
    const b = $('#sound-enable');
    if (b) b.hidden = !off;
    const mark = (T.sound_off_title || 'SOUND OFF') + ' · ';
    if (off && banner && !document.title.startsWith(mark)) document.title = mark + document.title;
    if (!off && document.title.startsWith(mark)) document.title = document.title.slice(mark.length);
  }
  ['pointerdown', 'keydown'].forEach((ev) => document.addEventListener(ev, () => {
    if (!alarm.ctx || alarm.ctx.state !== 'running') alarm.context();
  }, true));
  if ($('#sound-off')) {
    alarm.context();
    setTimeout(soundState, 500);
  }

  // The takeover: the alarm sounds while it is up, the acknowledge button
  // has the focus, Tab stays inside it, and a screen reader is told what
  // it is each time a new one comes up. When it goes, the focus goes back
  // where it was.
  let shown = '', before = null;
  function takeover() {
    const box = $('#takeover [data-takeover]');
    if (!box) {
      alarm.stop();
      if (shown && before && document.contains(before)) before.focus();
      shown = '';
      before = null;
      return;
    }
    alarm.start();
    if (box.dataset.takeover !== shown) {
      shown = box.dataset.takeover;
      const say = $('#announce');
      if (say) {
        const title = $('#tk-title', box), text = $('#tk-text', box);
        say.textContent = (title ? title.textContent : '') + '. ' + (text ? text.textContent : '');
      }
    }
    const btn = $('#takeover-ack');
    if (btn && !box.contains(document.activeElement)) {
      if (!before && document.activeElement !== document.body) before = document.activeElement;
      btn.focus();
    }
  }
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    const box = $('#takeover [data-takeover]');
    if (!box) return;
    const f = $$('a[href], button:not([hidden]):not([disabled]), input, select, textarea, [tabindex="0"]', box);
    if (!f.length) return;
    const i = f.indexOf(document.activeElement);
    const next = e.shiftKey ? (i <= 0 ? f.length - 1 : i - 1) : (i < 0 || i === f.length - 1 ? 0 : i + 1);
    e.preventDefault();
    f[next].focus();
  });

  // A fragment with a form being filled in (shelving an alarm group) is
  // left as it is until the operator leaves the form; shelving forms
  // opened stay open.
  async function refresh(el) {
    const busyForm = () => { const a = document.activeElement; return a && el.contains(a) && a.closest('form'); };
    if (busyForm()) return;
    const r = await fetch(el.dataset.frag, { credentials: 'same-origin' });
    if (r.redirected || r.status === 401) { location.href = '/console/login'; return; }
    if (!r.ok || busyForm()) return;
    const open = $$('details[open][id]', el).map((d) => d.id);
    el.innerHTML = await r.text();
    open.forEach((id) => { const d = document.getElementById(id); if (d) d.open = true; });
    enhance(el);
  }
  // Events come in bursts; one refresh at a time, then one more if needed.
  let busy = false, again = false;
  async function refreshAll() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      do {
        again = false;
        await Promise.all($$('[data-frag]').map((el) => refresh(el).catch(() => {})));
        // The chart is an image drawn by the server: ask for it again.
        $$('img.chart').forEach((img) => {
          const u = new URL(img.src);
          u.searchParams.set('t', Date.now());
          img.src = u.toString();
        });
      } while (again);
    } finally {
      busy = false;
    }
    takeover();
  }

  function lost(yes) {
    const el = $('#lost');
    if (el) el.hidden = !yes;
    body.dataset.connection = yes ? 'lost' : 'live';
  }
  function connect() {
    const es = new EventSource('/console/events');
    es.onopen = () => { lost(false); refreshAll(); };
    es.onmessage = () => refreshAll();
    es.onerror = () => {
      lost(true);
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        fetch('/console/api/me', { credentials: 'same-origin' }).then((r) => {
          if (r.status === 401) location.href = '/console/login';
          else setTimeout(connect, 3000);
        }, () => setTimeout(connect, 3000));
      }
    };
  }

  // The map: zoomed (1 to 16 times) and moved by its buttons, the wheel
  // and dragging, its scale bar following; kept while the map is drawn
  // again live. Labels keep their size (so they stay apart), lines their
  // width.
  const view = { s: 1, x: 0, y: 0 };
  function mapView() {
    const svg = $('.map-tools') && $('#map svg.seamap');
    const g = svg && $('g.view', svg);
    if (!g) return;
    const [w, h] = svg.dataset.map.split(',').map(Number);
    view.s = Math.min(16, Math.max(1, view.s));
    view.x = Math.min(w - w / view.s, Math.max(0, view.x));
    view.y = Math.min(h - h / view.s, Math.max(0, view.y));
    g.setAttribute('transform', `scale(${view.s}) translate(${-view.x} ${-view.y})`);
    $$('text', g).forEach((t) => {
      if (!t.dataset.size) t.dataset.size = t.getAttribute('font-size') || getComputedStyle(t).fontSize;
      t.setAttribute('font-size', parseFloat(t.dataset.size) / view.s);
    });
    const sc = $('g.scale', svg);
    if (!sc) return;
    if (!sc.dataset.nm0) { sc.dataset.nm0 = sc.dataset.nm; sc.dataset.px0 = sc.dataset.px; }
    const perPx = Number(sc.dataset.nm0) / Number(sc.dataset.px0) / view.s;
    let nm = 0.01;
    [0.01, 0.1, 1, 10, 100, 1000].forEach((p) => [1, 2, 5].forEach((f) => { if (f * p / perPx <= 150) nm = f * p; }));
    const px = nm / perPx, x0 = w - px - 16, y = 22, r = (v) => Math.round(v * 10) / 10;
    nm = Math.round(nm * 100) / 100;
    sc.dataset.nm = nm;
    sc.dataset.px = r(px);
    $('rect', sc).setAttribute('x', r(x0 - 8));
    $('rect', sc).setAttribute('width', r(px + 16));
    $('path', sc).setAttribute('d', `M${r(x0)} ${y}v6h${r(px)}v-6`);
    $('text', sc).setAttribute('x', r(x0 + px / 2));
    $('text', sc).textContent = nm + ' ' + sc.dataset.unit;
  }
  // Zoom by f about a point of the view (map pixels; its centre if none).
  function zoom(f, px, py) {
    const svg = $('#map svg.seamap');
    if (!svg) return;
    const [w, h] = svg.dataset.map.split(',').map(Number);
    const cx = px === undefined ? view.x + w / view.s / 2 : px, cy = py === undefined ? view.y + h / view.s / 2 : py;
    const fx = (cx - view.x) * view.s / w, fy = (cy - view.y) * view.s / h;
    view.s = Math.min(16, Math.max(1, view.s * f));
    view.x = cx - fx * w / view.s;
    view.y = cy - fy * h / view.s;
    mapView();
  }
  // The point of the map under a pointer event, in map pixels.
  function mapPoint(svg, e) {
    const r = svg.getBoundingClientRect(), vb = svg.viewBox.baseVal;
    const ux = (e.clientX - r.left) * vb.width / r.width, uy = (e.clientY - r.top) * vb.height / r.height;
    return [view.x + ux / view.s, view.y + uy / view.s, vb.width / r.width];
  }
  document.addEventListener('wheel', (e) => {
    const svg = e.target.closest && e.target.closest('#map svg.seamap');
    if (!svg || !$('.map-tools')) return;
    e.preventDefault();
    const [px, py] = mapPoint(svg, e);
    zoom(e.deltaY < 0 ? 1.25 : 0.8, px, py);
  }, { passive: false });
  let drag = null;
  document.addEventListener('pointerdown', (e) => {
    const svg = e.target.closest && e.target.closest('#map svg.seamap');
    if (svg && $('.map-tools') && e.button === 0) drag = { svg, x: e.clientX, y: e.clientY, moved: false };
  });
  document.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    drag.moved = true;
    drag.svg.classList.add('dragging');
    const k = mapPoint(drag.svg, e)[2] / view.s;
    view.x -= dx * k;
    view.y -= dy * k;
    drag.x = e.clientX;
    drag.y = e.clientY;
    mapView();
  });
  document.addEventListener('pointerup', () => { if (drag) drag.svg.classList.remove('dragging'); setTimeout(() => { drag = null; }, 0); });
  // A drag that starts on a shape moves the map, not the link.
  document.addEventListener('dragstart', (e) => { if (e.target.closest && e.target.closest('#map svg.seamap') && $('.map-tools')) e.preventDefault(); });
  // A drag that ends on a link does not follow it.
  document.addEventListener('click', (e) => { if (drag && drag.moved && e.target.closest('#map svg.seamap')) e.preventDefault(); }, true);

  // Clicks, by what the element says it does.
  document.addEventListener('click', async (e) => {
    const el = e.target.closest('button');
    if (!el) return;
    const act = async (f) => {
      el.disabled = true;
      try { await f(); toast(T.done); } catch (err) { toast(T.error + ': ' + err.message, true); } finally { el.disabled = false; }
      refreshAll();
    };
    if (el.dataset.ack) act(() => post('/console/api/ack', { id: el.dataset.ack }));
    else if (el.dataset.alertAck) act(() => post('/console/api/alerts/ack', { keys: el.dataset.alertAck.split(' ') }));
    else if (el.dataset.unshelve) act(() => post('/console/api/alarms/unshelve', { group: el.dataset.unshelve }));
    else if (el.dataset.mapZoom) {
      if (el.dataset.mapZoom === 'reset') { view.s = 1; view.x = 0; view.y = 0; mapView(); } else zoom(el.dataset.mapZoom === 'in' ? 2 : 0.5);
    } else if (el.dataset.mapPan) {
      const svg = $('#map svg.seamap');
      if (!svg) return;
      const [w, h] = svg.dataset.map.split(',').map(Number), d = { w: [-1, 0], e: [1, 0], n: [0, -1], s: [0, 1] }[el.dataset.mapPan];
      view.x += d[0] * w / view.s / 4;
      view.y += d[1] * h / view.s / 4;
      mapView();
    }
    else if (el.id === 'logout') { await post('/console/api/logout').catch(() => {}); location.href = '/console/login'; }
    else if (el.id === 'sound-enable') alarm.beep();
    else if (el.dataset.verify) {
      const out = $(`output[data-verify-result="${CSS.escape(el.dataset.verify)}"]`);
      try {
        await post('/console/api/verify?channel=' + encodeURIComponent(el.dataset.verify));
        out.textContent = T.verified;
        out.className = 'ok';
      } catch (err) { out.textContent = err.message; out.className = 'error'; }
    } else if (el.dataset.remove) act(() => post('/console/api/operators/' + encodeURIComponent(el.dataset.remove) + '/remove').then(() => location.reload()));
    else if (el.dataset.unlock) act(() => post('/console/api/operators/' + encodeURIComponent(el.dataset.unlock) + '/unlock').then(() => location.reload()));
    else if (el.dataset.accept) act(() => post('/console/api/channels/' + encodeURIComponent(el.dataset.accept) + '/accept').then(() => location.reload()));
    else if (el.dataset.groupRemove) act(() => post('/console/api/groups/remove', { name: el.dataset.groupRemove }).then(() => location.reload()));
  });

  // Enter acknowledges while the takeover is up, wherever the focus is.
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.target.closest('button, textarea, input, select, a')) return;
    const btn = $('#takeover-ack');
    if (btn) { e.preventDefault(); btn.click(); }
  });

  // The duty officer's keys, wherever the focus is but in a field, and
  // not over a takeover (it has its own): a acknowledges the top alarm of
  // the active list, o opens its channel, c goes to the Compose box (this
  // channel's, or the top alarm's channel's). The top alarm is read from
  // the board's alarm list, or asked for on the other pages.
  async function topAlarms() {
    let root = $('#alerts');
    if (!root) {
      const r = await fetch('/console/frag/alerts', { credentials: 'same-origin' });
      if (!r.ok) return [];
      root = document.createElement('div');
      root.innerHTML = await r.text();
    }
    return $$('.alarms-active li.alarm', root);
  }
  // The Compose box's text is the target of #text: the browser gives it
  // the focus as it scrolls to it.
  const openChannel = (ch, compose) => { location.href = '/console/channel/' + encodeURIComponent(ch) + (compose ? '#text' : ''); };
  let composeOnUp = false;
  document.addEventListener('keydown', async (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented || !['a', 'o', 'c'].includes(e.key)) return;
    if (e.target.closest && e.target.closest('input, textarea, select, [contenteditable], details.shelve')) return;
    if ($('#takeover [data-takeover]') || !$('#who')) return;
    e.preventDefault();
    // The box takes the focus when the key is let go, so that the
    // letter is not typed in it.
    if (e.key === 'c' && $('#text')) { composeOnUp = true; return; }
    const lines = await topAlarms();
    if (e.key === 'a') {
      const btn = lines.map((li) => $('button[data-alert-ack]', li)).find(Boolean);
      if (!btn) { toast(T.no_top_alarm, true); return; }
      try { await post('/console/api/alerts/ack', { keys: btn.dataset.alertAck.split(' ') }); toast(T.done); } catch (err) { toast(T.error + ': ' + err.message, true); }
      refreshAll();
      return;
    }
    const top = lines.find((li) => li.dataset.channel);
    if (!top) { toast(T.no_top_alarm, true); return; }
    openChannel(top.dataset.channel, e.key === 'c');
  });
  document.addEventListener('keyup', (e) => {
    if (!composeOnUp || e.key !== 'c') return;
    composeOnUp = false;
    $('#text').focus();
    $('#text').scrollIntoView({ block: 'nearest' });
  });
  if (location.hash === '#text' && $('#text')) $('#text').focus();

  // Shelving an alarm group: the forms are in a live fragment, so they
  // are found when submitted.
  document.addEventListener('submit', async (e) => {
    const form = e.target.closest('form.shelve-form');
    if (!form) return;
    e.preventDefault();
    const btn = form.querySelector('button[type=submit]');
    if (btn) btn.disabled = true;
    try {
      await post('/console/api/alarms/shelve', { group: form.dataset.group, for: form.elements['for'].value, reason: form.elements.reason.value });
      toast(T.done);
      if (form.contains(document.activeElement)) document.activeElement.blur();
    } catch (err) { toast(T.error + ': ' + err.message, true); } finally { if (btn) btn.disabled = false; }
    refreshAll();
  });

  // Leaving a shelving form lets its fragment be drawn again.
  document.addEventListener('focusout', (e) => { if (e.target.closest && e.target.closest('form.shelve-form')) setTimeout(refreshAll, 0); });

  function onSubmit(id, f) {
    const form = document.getElementById(id);
    if (!form) return;
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const btn = form.querySelector('button[type=submit]');
      if (btn) btn.disabled = true;
      try { await f(form, e.submitter); } catch (err) { toast(T.error + ': ' + err.message, true); } finally { if (btn) btn.disabled = false; }
    });
  }
  onSubmit('login-form', async () => {
    const errEl = $('#login-error');
    try {
      await post('/console/api/login', { name: $('#name').value, password: $('#password').value });
      location.href = '/console/';
    } catch (err) { errEl.textContent = err.message; }
  });
  onSubmit('compose', async (form) => {
    const m = await post('/console/api/send', { channel: form.dataset.channel, precedence: $('#prec').value, text: $('#text').value });
    $('#text').value = '';
    toast(fmt(T.sent_ok, m.id));
    refreshAll();
  });
  // One text to several parties: the broadcast's page shows where each
  // party's copy stands, and the parties it could not be sent to, with why.
  onSubmit('broadcast-form', async (form) => {
    const to = $$('input[name=to]:checked', form).map((c) => c.value);
    const b = await post('/console/api/broadcasts', { to, level: $('#bc-level').value, precedence: $('#bc-prec').value, text: $('#bc-text').value });
    location.href = '/console/broadcast/' + encodeURIComponent(b.id);
  });
  const bcText = $('#bc-text');
  if (bcText) bcText.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $('#broadcast-form').requestSubmit(); } });
  onSubmit('group-form', async (form) => {
    await post('/console/api/groups', { name: $('#group-name').value, peers: $$('input[name=peer]:checked', form).map((c) => c.value) });
    location.reload();
  });
  const text = $('#text');
  if (text) text.addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); $('#compose').requestSubmit(); } });
  // Suspending and resuming are signed acts of this party: the page is
  // drawn again to show the one now in force.
  onSubmit('suspend', async (form) => {
    await post(`/console/api/channels/${encodeURIComponent(form.dataset.channel)}/suspend`, { reason: $('#reason').value });
    location.reload();
  });
  onSubmit('resume', async (form) => {
    await post(`/console/api/channels/${encodeURIComponent(form.dataset.channel)}/resume`, { reason: $('#resume-reason').value });
    location.reload();
  });
  onSubmit('add-operator', async () => {
    await post('/console/api/operators', { name: $('#op-name').value, role: $('#op-role').value, lang: $('#op-lang').value, password: $('#op-password').value });
    location.reload();
  });
  onSubmit('propose', async () => {
    await post('/console/api/channels', { peer: $('#pr-peer').value, channel: $('#pr-channel').value, level: $('#pr-level').value });
    toast(T.done);
  });
  onSubmit('pin', async () => {
    await post('/console/api/peers', { card: $('#pin-card').value, fingerprint: $('#pin-fp').value });
    toast(T.done);
  });
  const file = $('#bundle-file');
  if (file) file.addEventListener('change', async () => {
    const out = $('#bundle-result');
    try {
      await post('/console/api/verify-bundle', null, await file.files[0].text());
      out.textContent = T.verified; out.className = 'ok';
    } catch (err) { out.textContent = err.message; out.className = 'error'; }
  });
  const lang = $('#lang');
  if (lang) lang.addEventListener('change', async () => {
    try { await post('/console/api/lang', { lang: lang.value }); location.reload(); } catch (err) { toast(err.message, true); }
  });

  // Calls. Placing one opens its page. On the page the browser answers,
  // talks and hangs up: its WebRTC goes to this station only, with its
  // candidates in the offer (no STUN, no TURN); the station answers and
  // carries the audio to the peer station.
  [['#call-start', false], ['#call-start-video', true]].forEach(([sel, video]) => {
    const b = $(sel);
    if (b) b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        const c = await post('/console/api/calls', { channel: b.dataset.channel, video });
        location.href = '/console/call/' + c.id;
      } catch (err) { toast(T.error + ': ' + err.message, true); b.disabled = false; }
    });
  });
  const callStatus = (state, text) => {
    body.dataset.call = state;
    const el = $('#call-status');
    if (el) el.textContent = text;
  };
  let callPC = null, callMic = null;
  const callMute = $('#call-mute');
  if (callMute) callMute.addEventListener('click', () => {
    if (!callMic) return;
    const muted = callMute.getAttribute('aria-pressed') !== 'true';
    callMic.getAudioTracks().forEach((t) => { t.enabled = !muted; });
    callMute.setAttribute('aria-pressed', String(muted));
    callMute.textContent = muted ? T.call_unmute : T.call_mute;
    body.dataset.muted = String(muted);
  });
  const callCamera = $('#call-camera');
  if (callCamera) callCamera.addEventListener('click', () => {
    if (!callMic) return;
    const off = callCamera.getAttribute('aria-pressed') !== 'true';
    callMic.getVideoTracks().forEach((t) => { t.enabled = !off; });
    callCamera.setAttribute('aria-pressed', String(off));
    callCamera.textContent = off ? T.call_camera_on : T.call_camera_off;
  });
  async function talk(id) {
    if (callPC) return;
    callStatus('connecting', T.call_connecting);
    const pc = new RTCPeerConnection({ iceServers: [] });
    callPC = pc;
    try {
      const video = !!$('#call-videos');
      const mic = await navigator.mediaDevices.getUserMedia({ audio: true, video });
      mic.getTracks().forEach((t) => pc.addTrack(t, mic));
      // Each voice (and picture) of the call comes on a stream of its
      // own: the other side's participants and the others of this side
      // (the station forwards, it does not mix).
      for (let i = 1; i < 7; i++) pc.addTransceiver('audio', { direction: 'recvonly' });
      if (video) {
        for (let i = 1; i < 7; i++) pc.addTransceiver('video', { direction: 'recvonly' });
        const self = $('#call-self');
        self.srcObject = new MediaStream(mic.getVideoTracks());
        const cam = $('#call-camera');
        if (cam) cam.hidden = false;
      }
      callMic = mic;
      const mute = $('#call-mute');
      if (mute) mute.hidden = false;
      pc.ontrack = (e) => {
        if (e.track.kind === 'video') {
          // A picture is shown once it comes: the streams offered for
          // participants who are not there stay hidden.
          const v = document.createElement('video');
          v.autoplay = true;
          v.playsInline = true;
          v.muted = true;
          v.dataset.picture = '';
          v.srcObject = new MediaStream([e.track]);
          v.hidden = e.track.muted;
          e.track.addEventListener('unmute', () => { v.hidden = false; v.play().catch(() => {}); });
          e.track.addEventListener('mute', () => { v.hidden = true; });
          $('#call-videos').append(v);
          v.play().catch(() => {});
          return;
        }
        let a = $('#call-audio');
        if (a.srcObject) {
          a = document.createElement('audio');
          a.autoplay = true;
          a.dataset.voice = '';
          $('#call-audio').after(a);
        }
        a.srcObject = new MediaStream([e.track]);
        a.play().catch(() => {});
      };
      pc.onconnectionstatechange = () => {
        const s = pc.connectionState;
        if (s === 'connected') callStatus(s, T.call_connected);
        else if (s === 'failed') callStatus(s, T.call_failed);
      };
      await pc.setLocalDescription(await pc.createOffer());
      await new Promise((done) => {
        if (pc.iceGatheringState === 'complete') return done();
        pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') done(); });
        setTimeout(done, 3000);
      });
      const a = await post('/console/api/calls/media', { id, sdp: pc.localDescription.sdp });
      await pc.setRemoteDescription({ type: 'answer', sdp: a.sdp });
    } catch (err) {
      pc.close();
      callPC = null;
      callStatus('failed', T.error + ': ' + err.message);
    }
  }
  const callAnswer = $('#call-answer'), callTalk = $('#call-talk'), callHangup = $('#call-hangup');
  if (callAnswer) callAnswer.addEventListener('click', async () => {
    callAnswer.disabled = true;
    try {
      await post('/console/api/calls/answer', { id: callAnswer.dataset.call, video: !!$('#call-videos') });
      callAnswer.hidden = true;
      if (callHangup) callHangup.hidden = false;
      await talk(callAnswer.dataset.call);
    } catch (err) { toast(T.error + ': ' + err.message, true); callAnswer.disabled = false; }
  });
  if (callTalk) callTalk.addEventListener('click', () => { callTalk.disabled = true; talk(callTalk.dataset.call); });
  if (callHangup) callHangup.addEventListener('click', async () => {
    try {
      await post('/console/api/calls/end', { id: callHangup.dataset.call });
      if (callPC) callPC.close();
      callPC = null;
      callStatus('ended', T.call_ended);
      callHangup.disabled = true;
    } catch (err) { toast(T.error + ': ' + err.message, true); }
  });

  enhance(document);
  setInterval(() => tick(document), 1000);
  // Fragments that change without an event (a call's path and duration)
  // are drawn again every second while shown.
  if ($('[data-frag-every]')) setInterval(() => $$('[data-frag-every]').forEach((el) => refresh(el).catch(() => {})), 1000);
  if (body.dataset.page !== 'login') {
    body.dataset.connection = 'connecting';
    takeover();
    connect();
  }
})();
