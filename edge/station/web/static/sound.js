// The board's alarm tone: Web Audio, generated here (no sound files), distinct per hazard
// class, repeating while any real alarm is unacknowledged. Browsers allow sound only after
// a user gesture: the operator's login click counts (same-origin navigation keeps it in
// Chromium); where it does not, a button asks for one click.
// Observable state for tests and for the operator: <body data-audio="running|suspended"
// data-sound="off|playing|silenced" data-tone="fire" data-tones="N">.
"use strict";
const Tone = {
  ctx: null,
  count: 0,
  lastAt: 0,
  PATTERNS: {
    // [frequency Hz, start s, length s, type]
    fire: { every: 2.5, notes: [[960, 0, .25], [770, .25, .25], [960, .5, .25], [770, .75, .25], [960, 1, .25], [770, 1.25, .25]], type: "square" },
    gas: { every: 2.5, notes: [0, .18, .36, .54, .72, .9].map((t) => [1250, t, .1]), type: "square" },
    earthquake: { every: 2.5, sweep: [[330, 660, 0, .4], [330, 660, .45, .4], [330, 660, .9, .4]], type: "sawtooth" },
    flood: { every: 3.5, sweep: [[400, 900, 0, 1.4]], type: "triangle" },
    intrusion: { every: 3, notes: [[880, 0, .15], [880, .25, .15], [880, .5, .15]], type: "square" },
    device: { every: 6, notes: [[520, 0, .35]], type: "sine" },
  },
  classOf(hazard) {
    if (hazard === "fire" || hazard === "gas" || hazard === "earthquake" || hazard === "flood") return hazard;
    if (hazard === "intrusion" || hazard === "tamper") return "intrusion";
    return "device";
  },
  init() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return;
    this.ctx = new Ctx();
    const button = document.getElementById("sound-enable");
    const show = () => {
      document.body.dataset.audio = this.ctx.state;
      if (button) button.hidden = this.ctx.state === "running";
    };
    this.ctx.onstatechange = show;
    show();
    const resume = () => this.ctx.resume().then(show);
    if (button) button.addEventListener("click", resume);
    document.addEventListener("click", resume);
    document.addEventListener("keydown", resume);
  },
  play(hazard) {
    if (!this.ctx) return;
    const name = this.classOf(hazard);
    const p = this.PATTERNS[name];
    const t0 = this.ctx.currentTime + 0.02;
    const gain = this.ctx.createGain();
    gain.gain.value = name === "device" ? 0.08 : 0.18;
    gain.connect(this.ctx.destination);
    for (const [f, at, len] of p.notes || []) {
      const osc = this.ctx.createOscillator();
      osc.type = p.type;
      osc.frequency.setValueAtTime(f, t0 + at);
      osc.connect(gain);
      osc.start(t0 + at);
      osc.stop(t0 + at + len);
    }
    for (const [f1, f2, at, len] of p.sweep || []) {
      const osc = this.ctx.createOscillator();
      osc.type = p.type;
      osc.frequency.setValueAtTime(f1, t0 + at);
      osc.frequency.linearRampToValueAtTime(f2, t0 + at + len);
      osc.connect(gain);
      osc.start(t0 + at);
      osc.stop(t0 + at + len);
    }
    this.count += 1;
    document.body.dataset.tone = name;
    document.body.dataset.tones = String(this.count);
  },
  // Called every second with the most urgent unacknowledged real alarm (or null).
  tick(top, silenced, nowMs) {
    if (!top) {
      document.body.dataset.sound = "off";
      return;
    }
    if (silenced) {
      document.body.dataset.sound = "silenced";
      return;
    }
    document.body.dataset.sound = "playing";
    const every = this.PATTERNS[this.classOf(top.hazard)].every * 1000;
    if (nowMs - this.lastAt >= every) {
      this.lastAt = nowMs;
      this.play(top.hazard);
    }
  },
  restart() {
    this.lastAt = 0;
  },
};
