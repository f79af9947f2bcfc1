#!/usr/bin/env bash
# Runs the bench table (and optionally the test suite) on a machine with a real GPU, offline:
# expects ./.gpu/deno.xz (the pinned Deno binary, xz), ./.gpu/nm.tar.xz (node_modules as
# `deno install` left it) and ./.gl/*.deb (the Vulkan loader). Used with the device tool; see
# bench/README.md ("On a real GPU"). Writes logs to $OUT when set.
set -uo pipefail
out=${OUT:-/tmp/gpu_out}
mkdir -p "$out" /tmp/bin /tmp/xdg
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; break; fi
done
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"; ldconfig -p | grep -E "libvulkan|libGLX_nvidia|libnvidia-glcore" | head
xz -dc .gpu/deno.xz >/tmp/bin/deno && chmod +x /tmp/bin/deno
# The loader found, the driver's own LD_LIBRARY_PATH is not needed, and Deno refuses to spawn the
# tests' subprocesses while it is set (--allow-run=deno does not cover it).
unset LD_LIBRARY_PATH
export AUDIO_GEN_BENCH_REPS=${AUDIO_GEN_BENCH_REPS:-64}
export PATH=/tmp/bin:$PATH DENO_DIR=/tmp/denodir XDG_RUNTIME_DIR=/tmp/xdg NPM_CONFIG_REGISTRY=http://127.0.0.1:9/
tar -xJf .gpu/nm.tar.xz
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.sm,power.limit --format=csv | tee "$out/gpu.txt"
for step in "$@"; do
  case "$step" in
    test) deno test --cached-only --allow-read=.,../shared,/tmp --allow-write=/tmp --allow-env --allow-run=deno 2>&1 | tee "$out/test.log" | grep -E "^(ok|FAILED|error)|passed|failed" ;;
    *) deno run --cached-only --allow-read=. --allow-env bench/report.ts $step 2>&1 | tee -a "$out/bench.log" ;;
  esac
done
