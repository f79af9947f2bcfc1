/**
 * The AudioWorklet processor that captures the microphone: it copies the first channel of its
 * input, 128 frames per render quantum at the AudioContext's rate, into blocks of
 * {@link BLOCK_FRAMES} and posts each block (transferred, not copied) to the MessagePort the page
 * hands it, whose other end is the engine Worker. It outputs silence. Runs on the audio thread:
 * no allocation beyond one block per post, no engine code.
 * @module
 */

/** Frames per posted block: 2048 is ~43 ms at 48 kHz, few enough messages, little latency. */
export const BLOCK_FRAMES = 2048;

// The AudioWorkletGlobalScope's names (not in Deno's or the DOM's type libraries).
declare class AudioWorkletProcessor {
  readonly port: MessagePort;
}
declare function registerProcessor(name: string, ctor: unknown): void;

class CaptureProcessor extends AudioWorkletProcessor {
  #out: MessagePort | null = null;
  #block = new Float32Array(BLOCK_FRAMES);
  #filled = 0;

  constructor() {
    super();
    this.port.onmessage = (ev: MessageEvent<{ port: MessagePort }>) => {
      this.#out = ev.data.port;
    };
  }

  process(inputs: Float32Array[][]): boolean {
    const channel = inputs[0]?.[0];
    if (!channel || !this.#out) return true;
    let i = 0;
    while (i < channel.length) {
      const n = Math.min(BLOCK_FRAMES - this.#filled, channel.length - i);
      this.#block.set(channel.subarray(i, i + n), this.#filled);
      this.#filled += n;
      i += n;
      if (this.#filled === BLOCK_FRAMES) {
        this.#out.postMessage(this.#block, [this.#block.buffer]);
        this.#block = new Float32Array(BLOCK_FRAMES);
        this.#filled = 0;
      }
    }
    return true;
  }
}

registerProcessor("audio-gen-capture", CaptureProcessor);
