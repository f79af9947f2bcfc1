/**
 * Building the elementwise kernels from the op table (engine/ops/elementwise_kernels.ts): every
 * op gets its case at its own code, and a table entry without a WGSL forward or derivative, or a
 * template without its placeholder, is an error naming the op or the file (never a silent
 * identity). The kernels' results are tested op by op in elementwise_test.ts.
 */
import assert from "node:assert/strict";
import { binarySource, fillTemplate, unarySource } from "../../engine/ops/elementwise_kernels.ts";
import {
  BINARY_OPS,
  type BinaryOpSpec,
  UNARY_OPS,
  type UnaryOpSpec,
} from "../../engine/ops/elementwise_table.ts";

Deno.test("each op's expressions are the switch case at its code", () => {
  const unary = unarySource();
  Object.values(UNARY_OPS).forEach((spec: UnaryOpSpec, k) => {
    assert.ok(unary.includes(`case ${k}u: { return ${spec.forward.wgsl}; }`), `forward ${k}`);
    assert.ok(unary.includes(`case ${k}u: { return ${spec.derivative.wgsl}; }`), `f' ${k}`);
  });
  const binary = binarySource();
  Object.values(BINARY_OPS).forEach((spec: BinaryOpSpec, k) => {
    assert.ok(binary.includes(`case ${k}u: { return ${spec.forward.wgsl}; }`), `forward ${k}`);
    if (spec.derivatives) {
      assert.ok(binary.includes(`case ${k}u: { return ${spec.derivatives.a.wgsl}; }`));
      assert.ok(binary.includes(`case ${k}u: { return ${spec.derivatives.b.wgsl}; }`));
    }
  });
  const placeholder = /^\s*\/\/ \{\{/m;
  assert.ok(!placeholder.test(unary) && !placeholder.test(binary), "a placeholder left unfilled");
});

Deno.test("an entry without its WGSL forward or derivative is an error naming the op", () => {
  const sin = {
    forward: { wgsl: "sin(x)", f64: Math.sin },
    derivative: { wgsl: "cos(x)", f64: Math.cos },
    tests: [],
  };
  assert.doesNotThrow(() => unarySource({ sin }));
  const noDerivative = { ...sin, derivative: undefined } as unknown as UnaryOpSpec;
  assert.throws(
    () => unarySource({ sin: noDerivative }),
    /unary op 'sin' declares no WGSL derivative/,
  );
  const emptyForward = { ...sin, forward: { wgsl: " ", f64: Math.sin } };
  assert.throws(
    () => unarySource({ sin: emptyForward }),
    /unary op 'sin' declares no WGSL forward/,
  );

  const atan2 = {
    forward: { wgsl: "atan2(a, b)", f64: Math.atan2 },
    derivatives: {
      a: { wgsl: "b / (a * a + b * b)", f64: (a: number, b: number) => b / (a * a + b * b) },
      b: { wgsl: "-a / (a * a + b * b)", f64: (a: number, b: number) => -a / (a * a + b * b) },
    },
    tests: [],
  };
  assert.doesNotThrow(() => binarySource({ atan2 }));
  const noDerivatives = { ...atan2, derivatives: undefined } as unknown as BinaryOpSpec;
  assert.throws(
    () => binarySource({ atan2: noDerivatives }),
    /binary op 'atan2' declares no derivatives/,
  );
  const noB = { ...atan2, derivatives: { a: atan2.derivatives.a } } as unknown as BinaryOpSpec;
  assert.throws(
    () => binarySource({ atan2: noB }),
    /binary op 'atan2' declares no WGSL derivative for b/,
  );
  // null is the declaration of an op without gradient, not a missing one.
  assert.doesNotThrow(() => binarySource({ atan2: { ...atan2, derivatives: null } }));
});

Deno.test("a template and its fills must match, or the error names the file", () => {
  const template = "fn f() {\n  // {{cases}}\n}\n";
  assert.equal(fillTemplate("t.wgsl", template, { cases: "  x;" }), "fn f() {\n  x;\n}\n");
  assert.throws(
    () => fillTemplate("t.wgsl", template, {}),
    /t\.wgsl: no fill for placeholder \{\{cases\}\}/,
  );
  assert.throws(
    () => fillTemplate("t.wgsl", template, { cases: "", other: "" }),
    /t\.wgsl: no placeholder \{\{other\}\} to fill/,
  );
});
