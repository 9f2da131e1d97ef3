// The operators' board: live queue over Server-Sent Events, ageing rows, sites, banners,
// the tone and its silence, title and favicon with the unacknowledged count.
"use strict";
(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const T = JSON.parse(document.getElementById("words").textContent);
  const SILENCE_MS = 10 * 60 * 1000;
  const LOST_AFTER_MS = 12000;
  const state = {
    alarms: new Map(),
    sites: [],
    health: null,
    lastId: null,
    offsetMs: 0,            // station clock - this browser's clock
    heardAt: Date.now(),
    lostSince: null,
    source: null,
    reported: new Set(),    // alarm ids whose first view this page reported
    pendingSeen: new Set(),
    silence: loadSilence(),
    dirty: false,
  };
  window.__board = state;          // for tests and the benchmark
  window.__rendered = {};          // alarm_id -> epoch ms when its row was first on screen
  window.__shown = {};             // last_event_id -> epoch ms when a row first showed it

  function loadSilence() {
    try {
      const s = JSON.parse(sessionStorage.getItem("siaga-silence") || "null");
      if (s && s.until > Date.now()) return { until: s.until, keys: new Set(s.keys) };
    } catch (e) { /* none */ }
    return null;
  }
  function saveSilence() {
    if (state.silence) {
      sessionStorage.setItem("siaga-silence", JSON.stringify({ until: state.silence.until, keys: [...state.silence.keys] }));
    } else {
      sessionStorage.removeItem("siaga-silence");
    }
  }
  const stationNow = () => Date.now() + state.offsetMs;
  const compare = (a, b) => {
    for (let i = 0; i < a.order.length; i++) {
      if (a.order[i] < b.order[i]) return -1;
      if (a.order[i] > b.order[i]) return 1;
    }
    return 0;
  };
  const isReal = (a) => a.panel === "real";
  const needsAck = (a) => isReal(a) && a.ack_needed !== false && a.ack === "none" && !a.closed;
  const ackKey = (a) => a.alarm_id + "@" + a.needs_ack_since;

  function hazardWord(a) {
    if (a.sensor === "_site") return T.silent_site;
    if (a.hazard_class === 3 && a.hazard !== "device") return T.hazard_device + " · " + (T[a.hazard] || a.hazard);
    return a.hazard === "device" ? T.hazard_device : (T[a.hazard] || a.hazard.toUpperCase());
  }
  function ageLevel(a, now) {
    if (!needsAck(a)) return "";
    const waited = (now - Date.parse(a.needs_ack_since)) / 1000;
    return waited >= boot.red_s ? "red" : waited >= boot.yellow_s ? "yellow" : "";
  }
  function ackCell(a) {
    if (a.acked_how === "drill_end") return T.closed_at_drill_end;
    if (a.ack_needed === false) return T.ack_not_needed;
    let text = T["ack_" + a.ack] || a.ack;
    const who = a.acked_how === "device" ? T.acked_on_device : a.acked_by;
    if (a.acked_by && a.ack !== "none") text += " " + T.by + " " + who;
    if (a.ack_refused) text += " — " + a.ack_refused;
    return text;
  }
  function value(a) {
    if (a.value === null || a.value === undefined) return "—";
    return (Math.round(a.value * 100) / 100) + (a.unit ? " " + a.unit : "");
  }
  function row(a, now, withActions) {
    const E = Siaga.esc;
    const mayAck = withActions && boot.role !== "viewer" && a.ack_needed !== false && a.ack !== "confirmed" && !a.closed;
    const tag = a.drill ? `<span class="tag drill">${E(T.drill)}</span> ` : a.test ? `<span class="tag drill">${E(T.walk_test)}</span> ` : "";
    const marker = a.marker ? `<div class="marker">${E(a.marker)}</div>` : "";
    return `<tr data-alarm-id="${E(a.alarm_id)}" data-ack="${E(a.ack)}" data-age="${ageLevel(a, now)}" ` +
      `class="hz-${E(a.hazard)} hc-${a.hazard_class}${a.active ? "" : " cleared"}">` +
      `<td class="hazard">${tag}${E(hazardWord(a))}</td>` +
      `<td class="site" title="${E(a.site)}/${E(a.device)}">${E(a.site_name)}${marker}</td>` +
      `<td class="place" title="${E(a.message)}">${E(a.sensor === "_site" ? "—" : a.place || a.sensor)}</td>` +
      `<td class="state st-${stateClass(a.state)}">${E(T["state_" + a.state] || a.state)}</td>` +
      `<td>${E(a.stage || "—")}</td><td class="num">${E(value(a))}</td>` +
      `<td class="t">${E(Siaga.hms(a.first_at))}</td><td class="t">${E(Siaga.hms(a.last_at))}</td>` +
      `<td class="ack ack-${E(a.acked_how === "drill_end" ? "ended" : a.ack)}">${E(ackCell(a))}</td>` +
      `<td class="act">${mayAck ? `<button type="button" class="do-ack" data-id="${E(a.alarm_id)}">${E(T.acknowledge)}</button>` : ""}` +
      `<a href="/alarms/${encodeURIComponent(a.alarm_id)}">${E(T.detail)}</a></td></tr>`;
  }
  // A silent site's state is the reason as words: a class gets only a known state.
  const STATES = ["starting", "normal", "warning", "alarm", "fault", "disabled"];
  function stateClass(state) {
    return STATES.includes(state) ? state : "other";
  }
  function siteRow(s) {
    const E = Siaga.esc;
    return `<tr data-site="${E(s.site)}" data-device="${E(s.device)}" data-status="${E(s.status)}">` +
      `<td title="${E(s.site)}/${E(s.device)}">${E(s.name)} <span class="muted">${E(s.device)}</span></td>` +
      `<td class="status st-${E(s.status)}">${E(T[s.status] || s.status)}</td>` +
      `<td class="t">${E(Siaga.hms(s.last_heard))}</td><td class="num">${s.open_alarms || ""}</td></tr>`;
  }

  function render() {
    state.dirty = false;
    const now = stationNow();
    const all = [...state.alarms.values()].sort(compare);
    const real = all.filter(isReal);
    const drills = all.filter((a) => !isReal(a));
    document.getElementById("real-rows").innerHTML = real.map((a) => row(a, now, true)).join("");
    document.getElementById("drill-rows").innerHTML = drills.map((a) => row(a, now, true)).join("");
    document.getElementById("real-empty").hidden = real.length > 0;
    document.getElementById("drill-empty").hidden = drills.length > 0;
    document.getElementById("site-rows").innerHTML = state.sites.map(siteRow).join("");
    const stamp = performance.timeOrigin + performance.now();
    for (const a of all) {
      if (!(a.alarm_id in window.__rendered)) window.__rendered[a.alarm_id] = stamp;
      if (!(a.last_event_id in window.__shown)) window.__shown[a.last_event_id] = stamp;
      if (!state.reported.has(a.alarm_id)) state.pendingSeen.add(a.alarm_id);
    }
    attention();
    reportSeen();
  }
  function schedule() {
    if (!state.dirty) {
      state.dirty = true;
      requestAnimationFrame(render);
    }
  }

  function reportSeen() {
    if (document.visibilityState !== "visible" || state.pendingSeen.size === 0 || state.seenBusy) return;
    const ids = [...state.pendingSeen].slice(0, 500);
    state.seenBusy = true;
    Siaga.post("/api/seen", { alarms: ids }).then((r) => {
      if (r.ok) for (const id of ids) { state.reported.add(id); state.pendingSeen.delete(id); }
    }).finally(() => { state.seenBusy = false; });
  }
  document.addEventListener("visibilitychange", reportSeen);

  // ---------------------------------------------------------------- attention

  function attention() {
    const now = stationNow();
    const waiting = [...state.alarms.values()].filter(needsAck).sort(compare);
    const n = waiting.length;
    document.getElementById("count-unacked").textContent = String(n);
    document.getElementById("count-open").textContent = String([...state.alarms.values()].filter(isReal).length);
    document.body.dataset.unacked = String(n);
    document.title = (n ? `(${n}) ` : "") + T.board + " — " + document.querySelector(".brand").textContent.replace("SIAGA", "").trim();
    favicon(n);
    // Silence: at most 10 minutes, broken by any alarm that was not waiting when it began.
    if (state.silence) {
      const fresh = waiting.some((a) => !state.silence.keys.has(ackKey(a)));
      if (fresh || Date.now() >= state.silence.until) {
        state.silence = null;
        saveSilence();
        Tone.restart();
      }
    }
    const left = document.getElementById("silence-left");
    const button = document.getElementById("silence");
    if (state.silence) {
      const s = Math.max(0, Math.ceil((state.silence.until - Date.now()) / 1000));
      left.hidden = false;
      left.textContent = `${T.silenced} ${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
      button.textContent = T.unsilence;
    } else {
      left.hidden = true;
      button.textContent = T.silence;
    }
    button.disabled = n === 0 && !state.silence;
    Tone.tick(waiting[0] || null, !!state.silence, Date.now());
    // Ageing without a re-render: only the data-age attribute changes.
    for (const tr of document.querySelectorAll("#real-rows tr")) {
      const a = state.alarms.get(tr.dataset.alarmId);
      if (a) tr.dataset.age = ageLevel(a, now);
    }
  }
  let lastIcon = -1;
  function favicon(n) {
    if (n === lastIcon) return;
    lastIcon = n;
    const c = document.createElement("canvas");
    c.width = c.height = 64;
    const g = c.getContext("2d");
    g.fillStyle = n ? "#d21f1f" : "#1f8f3a";
    g.beginPath(); g.arc(32, 32, 30, 0, 2 * Math.PI); g.fill();
    g.fillStyle = "#fff";
    g.font = "bold 38px sans-serif";
    g.textAlign = "center"; g.textBaseline = "middle";
    g.fillText(n > 99 ? "99" : String(n), 32, 35);
    const link = document.getElementById("favicon");
    link.href = c.toDataURL("image/png");
    link.dataset.count = String(n);
  }
  document.getElementById("silence").addEventListener("click", () => {
    if (state.silence) {
      state.silence = null;
      Tone.restart();
    } else {
      const keys = [...state.alarms.values()].filter(needsAck).map(ackKey);
      state.silence = { until: Date.now() + SILENCE_MS, keys: new Set(keys) };
    }
    saveSilence();
    attention();
  });
  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button.do-ack");
    if (!b) return;
    b.disabled = true;
    const r = await Siaga.post(`/api/alarms/${encodeURIComponent(b.dataset.id)}/ack`, { note: "" });
    if (r.ok) apply("alarm", await r.json(), null);
    else b.disabled = false;
  });

  // ---------------------------------------------------------------- the stream

  const ACK_RANK = { none: 0, pending: 1, confirmed: 2 };
  function apply(kind, data, id) {
    if (state.fresh) {
      document.body.dataset.resumed = kind === "snapshot" ? "snapshot" : "changes";
      state.fresh = false;
    }
    if (kind === "snapshot") {
      state.alarms = new Map(data.alarms.map((a) => [a.alarm_id, a]));
      state.sites = data.sites;
      health(data.health);
      state.offsetMs = data.now * 1000 - Date.now();
    } else if (kind === "alarm") {
      if (data.closed) state.alarms.delete(data.alarm_id);
      else if (data.order) state.alarms.set(data.alarm_id, data);
      else {
        // An operator's own action answered with the plain view: keep the row's order.
        // The device may have confirmed before that answer came back (its receipt on the
        // stream first): an answer never moves the ack back ("pending" over "confirmed").
        const old = state.alarms.get(data.alarm_id);
        if (old && (ACK_RANK[data.ack] ?? 0) >= (ACK_RANK[old.ack] ?? 0)) {
          state.alarms.set(data.alarm_id, Object.assign({}, old, data));
        }
      }
    } else if (kind === "sites") {
      state.sites = data.sites;
    } else if (kind === "health") {
      health(data);
    }
    if (id) state.lastId = id;
    schedule();
  }
  function health(h) {
    state.health = h;
    const banner = document.getElementById("banner-station");
    banner.hidden = !h || !h.banner;
    banner.textContent = h && h.banner ? h.banner : "";
  }
  function heard() {
    state.heardAt = Date.now();
    if (state.lostSince) {
      state.lostSince = null;
      document.getElementById("banner-lost").hidden = true;
      document.body.dataset.connection = "live";
    }
  }
  function lost() {
    if (!state.lostSince) {
      state.lostSince = Date.now();
      const b = document.getElementById("banner-lost");
      b.textContent = T.lost_station.replace("{t}", Siaga.hms(new Date().toISOString()));
      b.hidden = false;
      document.body.dataset.connection = "lost";
    }
  }
  function connect() {
    if (state.source) state.source.close();
    const url = "/board/stream" + (state.lastId ? "?last=" + encodeURIComponent(state.lastId) : "");
    const es = new EventSource(url);
    state.source = es;
    state.fresh = true;
    for (const kind of ["snapshot", "alarm", "sites", "health"]) {
      es.addEventListener(kind, (e) => { heard(); apply(kind, JSON.parse(e.data), e.lastEventId); });
    }
    es.addEventListener("ping", (e) => {
      heard();
      state.offsetMs = JSON.parse(e.data).now * 1000 - Date.now();
    });
    es.onopen = () => { document.body.dataset.connection = "live"; };
    es.onerror = () => {
      lost();
      if (es.readyState === EventSource.CLOSED) {
        fetch("/api/whoami", { headers: { "X-Requested-With": "siaga-board" } }).then((r) => {
          if (r.status === 401) window.location = "/login";
          else setTimeout(connect, 1000);
        }).catch(() => setTimeout(connect, 2000));
      }
    };
  }
  setInterval(() => {
    if (Date.now() - state.heardAt > LOST_AFTER_MS) {
      lost();
      state.heardAt = Date.now();  // one reconnect per period
      connect();
    }
    document.getElementById("clock").textContent = Siaga.hms(new Date(stationNow()).toISOString());
    attention();
  }, 1000);
  state.reconnect = connect;
  Tone.init();
  connect();
})();
