import * as ag from "../../mod.ts";
import { checkOp, randomArray, setup } from "../util.ts";

Deno.test("matmul odd shapes", async () => {
  await setup();
  const [m, k, n] = [67, 33, 71];
  await checkOp(
    "matmul",
    [{ data: randomArray(m * k, 1), shape: [m, k] }, {
      data: randomArray(k * n, 2),
      shape: [k, n],
    }],
    (a, b) => a.matmul(b),
    (a, b) => {
      const o = new Float64Array(m * n);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
          o[i * n + j] = s;
        }
      }
      return o;
    },
  );
  void ag;
});
