// Listen-in: plays both sides of a live call with Web Audio.
// Each WebSocket message is one 20 ms frame: a side byte (0 caller, 1 agent), then 8 kHz 16-bit
// little-endian PCM. Each side is queued on its own timeline (caller panned left, agent right)
// a little ahead of the clock, so network jitter does not cut the sound.
"use strict";

class Listener {
  static RATE = 8000;
  static LEAD_S = 0.15; // jitter buffer

  constructor(callId, onStats) {
    this.onStats = onStats;
    this.received = [0, 0]; // seconds of audio per side
    this.context = new AudioContext();
    this.next = [0, 0];
    this.pans = [-0.6, 0.6].map((pan) => {
      const node = new StereoPannerNode(this.context, { pan });
      node.connect(this.context.destination);
      return node;
    });
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.ws = new WebSocket(`${scheme}://${location.host}/operator/listen/${encodeURIComponent(callId)}`);
    this.ws.binaryType = "arraybuffer";
    this.ws.onmessage = (m) => this.play(m.data);
    this.ws.onclose = () => { this.closed = true; this.report(); };
    this.timer = setInterval(() => this.report(), 250);
  }

  play(buffer) {
    const side = new Uint8Array(buffer, 0, 1)[0];
    if (side > 1) return;
    const pcm = new Int16Array(buffer.slice(1)); // copy: offset 1 is not 2-byte aligned
    const audio = this.context.createBuffer(1, pcm.length, Listener.RATE);
    const samples = audio.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
    const source = new AudioBufferSourceNode(this.context, { buffer: audio });
    source.connect(this.pans[side]);
    const start = Math.max(this.next[side], this.context.currentTime + Listener.LEAD_S);
    source.start(start);
    this.next[side] = start + audio.duration;
    this.received[side] += audio.duration;
  }

  report() {
    this.onStats({ caller: this.received[0], bot: this.received[1], closed: !!this.closed });
  }

  stop() {
    clearInterval(this.timer);
    this.ws.onclose = null;
    this.ws.close();
    this.context.close();
  }
}

window.Listener = Listener;
