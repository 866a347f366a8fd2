// What the "distance to the limit" phase needs from ONNX files, with no protobuf library: the
// shapes of a model's weights (to count its floating-point operations per token) and tiny MatMul
// models (to measure what ONNX Runtime's GEMM reaches on this machine's cores).
//
// Only the few ONNX fields used here are read or written (onnx.proto3 field numbers):
//   ModelProto: 1 ir_version, 7 graph, 8 opset_import
//   GraphProto: 1 node, 5 initializer, 11 input, 12 output
//   NodeProto: 1 input, 2 output, 4 op_type, 5 attribute, 7 domain
//   AttributeProto: 1 name, 3 i, 4 s, 5 t;  TensorProto: 1 dims, 2 data_type, 8 name

type Field = { no: number; wire: number; int: bigint; bytes: Uint8Array | null };

function* fields(buf: Uint8Array): Generator<Field> {
  let p = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (p >= buf.length) throw new Error('onnx: truncated varint');
      const b = buf[p++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (p < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { no, wire, int: varint(), bytes: null };
    else if (wire === 2) {
      const len = Number(varint());
      yield { no, wire, int: 0n, bytes: buf.subarray(p, p + len) };
      p += len;
    } else if (wire === 1) {
      yield { no, wire, int: 0n, bytes: buf.subarray(p, p + 8) };
      p += 8;
    } else if (wire === 5) {
      yield { no, wire, int: 0n, bytes: buf.subarray(p, p + 4) };
      p += 4;
    } else throw new Error(`onnx: unsupported wire type ${wire}`);
  }
}

const text = (b: Uint8Array | null) => (b ? Buffer.from(b).toString('utf8') : '');

/** Packed varints of a length-delimited field. */
function packedVarints(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let p = 0;
  while (p < bytes.length) {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = bytes[p++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7n;
    }
    out.push(Number(BigInt.asIntN(64, result)));
  }
  return out;
}

export interface OnnxTensorInfo {
  name: string;
  dims: number[];
}
export interface OnnxNode {
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  ints: Record<string, number>;
  strings: Record<string, string>;
  /** A Constant node's `value` tensor. */
  tensor?: OnnxTensorInfo;
}
export interface OnnxGraph {
  nodes: OnnxNode[];
  /** Shapes of everything whose shape is fixed by the file: initializers, Constant outputs, and what Cast / DequantizeLinear make of them. */
  shapes: Map<string, number[]>;
  inputs: string[];
  outputs: string[];
}

function tensorInfo(buf: Uint8Array): OnnxTensorInfo {
  const dims: number[] = [];
  let name = '';
  for (const f of fields(buf)) {
    if (f.no === 1) {
      if (f.wire === 0) dims.push(Number(BigInt.asIntN(64, f.int)));
      else dims.push(...packedVarints(f.bytes!));
    } else if (f.no === 8) name = text(f.bytes);
  }
  return { name, dims };
}

function nodeOf(buf: Uint8Array): OnnxNode {
  const n: OnnxNode = { opType: '', domain: '', inputs: [], outputs: [], ints: {}, strings: {} };
  for (const f of fields(buf)) {
    if (f.no === 1) n.inputs.push(text(f.bytes));
    else if (f.no === 2) n.outputs.push(text(f.bytes));
    else if (f.no === 4) n.opType = text(f.bytes);
    else if (f.no === 7) n.domain = text(f.bytes);
    else if (f.no === 5) {
      let name = '';
      let i: number | undefined;
      let s: string | undefined;
      let t: OnnxTensorInfo | undefined;
      for (const a of fields(f.bytes!)) {
        if (a.no === 1) name = text(a.bytes);
        else if (a.no === 3) i = Number(BigInt.asIntN(64, a.int));
        else if (a.no === 4) s = text(a.bytes);
        else if (a.no === 5) t = tensorInfo(a.bytes!);
      }
      if (i !== undefined) n.ints[name] = i;
      if (s !== undefined) n.strings[name] = s;
      if (t !== undefined && name === 'value') n.tensor = t;
    }
  }
  return n;
}

/** Reads the nodes and the fixed shapes of an ONNX model's main graph. */
export function readOnnxGraph(model: Uint8Array): OnnxGraph {
  let graph: Uint8Array | null = null;
  for (const f of fields(model)) if (f.no === 7) graph = f.bytes;
  if (!graph) throw new Error('onnx: no graph in the model');
  const nodes: OnnxNode[] = [];
  const shapes = new Map<string, number[]>();
  const inputs: string[] = [];
  const outputs: string[] = [];
  const valueName = (b: Uint8Array) => {
    for (const f of fields(b)) if (f.no === 1) return text(f.bytes);
    return '';
  };
  for (const f of fields(graph)) {
    if (f.no === 1) nodes.push(nodeOf(f.bytes!));
    else if (f.no === 5) {
      const t = tensorInfo(f.bytes!);
      shapes.set(t.name, t.dims);
    } else if (f.no === 11) inputs.push(valueName(f.bytes!));
    else if (f.no === 12) outputs.push(valueName(f.bytes!));
  }
  // Constants, and weights stored in another type (fp16 cast to fp32, int8 dequantized) keep their shape.
  for (const n of nodes) {
    if (n.opType === 'Constant' && n.tensor) shapes.set(n.outputs[0]!, n.tensor.dims);
    else if ((n.opType === 'Cast' || n.opType === 'DequantizeLinear' || n.opType === 'Identity') && shapes.has(n.inputs[0]!)) shapes.set(n.outputs[0]!, shapes.get(n.inputs[0]!)!);
  }
  return { nodes, shapes, inputs, outputs };
}

/** What one text costs a model, from its graph and the sample's token lengths (bench.ts writes it, report.ts reads it). */
export interface ModelCost {
  terms: CostTerm[];
  tokens_mean: number;
  /** Tokens the worker's batches run, padding included: batches of 256 split as the worker splits them (encode.ts subBatches), each run padded to its longest. */
  padded_tokens_mean: number;
  /** Rows per ONNX Runtime run, on average, as the worker splits the batches. */
  rows_per_run_mean: number;
  useful_ops_per_text: number;
  padded_ops_per_text: number;
  recurrent_share: number;
  int8: boolean;
  lstm?: { hidden: number; input: number; dirs: number };
}

/** A cost term as latest.json stores it. */
export type CostTermOut = Omit<CostTerm, 'recurrent'>;

/** One term of a model's cost: FLOPs (or int8 ops) per token, per row, or per row x length². */
export interface CostTerm {
  what: string;
  op: string;
  /** Multiply-adds counted as 2 operations. */
  perToken: number;
  perRow: number;
  /** Attention: operations per row = perTokenSquared x length². */
  perTokenSquared: number;
  int8: boolean;
  /** Part of a recurrence (one small GEMM per step), not of one big GEMM over all tokens. */
  recurrent?: boolean;
}

/**
 * The operations a forward pass costs, from the weights' shapes:
 * - LSTM / DynamicQuantizeLSTM: per token and direction, 2 x 4H x I for the input projection (one
 *   GEMM over all steps) and 2 x 4H x H for the recurrence (one GEMM per step); gate element-wise
 *   work (a few x H) is left out (under 3 % here).
 * - MatMul / MatMulInteger with a weight [K, N]: 2 x K x N per token; Gemm (the classifier head,
 *   after pooling): 2 x K x N per row.
 * - MatMul of two activations (attention scores and their use): 2 x L² x d per row each, with d the
 *   width of the first weight MatMul.
 * Embedding look-ups, pooling, normalisation and activations are not counted.
 */
export function costTerms(g: OnnxGraph): CostTerm[] {
  const terms: CostTerm[] = [];
  let width = 0;
  for (const n of g.nodes) {
    if (n.opType === 'LSTM' || n.opType === 'DynamicQuantizeLSTM') {
      const h = n.ints.hidden_size;
      const w = g.shapes.get(n.inputs[1]!);
      if (!h || !w || w.length !== 3) throw new Error(`onnx: ${n.opType} without hidden_size or a 3-D W`);
      const dirs = w[0]!;
      // LSTM's W is [dirs, 4H, I]; DynamicQuantizeLSTM's is [dirs, I, 4H].
      const input = w[1] === 4 * h ? w[2]! : w[1]!;
      const int8 = n.opType === 'DynamicQuantizeLSTM';
      terms.push({ what: `LSTM input projection (${dirs} dir x 4*${h} x ${input})`, op: n.opType, perToken: dirs * 2 * 4 * h * input, perRow: 0, perTokenSquared: 0, int8 });
      terms.push({ what: `LSTM recurrence (${dirs} dir x 4*${h} x ${h})`, op: n.opType, perToken: dirs * 2 * 4 * h * h, perRow: 0, perTokenSquared: 0, int8, recurrent: true });
    } else if (n.opType === 'MatMul' || n.opType === 'MatMulInteger' || n.opType === 'Gemm') {
      const a = g.shapes.get(n.inputs[0]!);
      const b = g.shapes.get(n.inputs[1]!);
      const int8 = n.opType === 'MatMulInteger';
      if (b && b.length === 2) {
        const [k, m] = n.opType === 'Gemm' && n.ints.transB ? [b[1]!, b[0]!] : [b[0]!, b[1]!];
        if (n.opType === 'Gemm') terms.push({ what: `head ${k} -> ${m}`, op: 'Gemm', perToken: 0, perRow: 2 * k * m, perTokenSquared: 0, int8 });
        else {
          width ||= k;
          terms.push({ what: `weights ${k} x ${m}`, op: n.opType, perToken: 2 * k * m, perRow: 0, perTokenSquared: 0, int8 });
        }
      } else if (!a && !b) {
        terms.push({ what: 'attention (activation x activation)', op: n.opType, perToken: 0, perRow: 0, perTokenSquared: -1, int8 });
      }
    }
  }
  for (const t of terms) if (t.perTokenSquared === -1) t.perTokenSquared = 2 * width;
  return terms;
}

/** Operations for one row of `length` tokens. */
export function rowOps(terms: CostTerm[], length: number, filter: (t: CostTerm) => boolean = () => true): number {
  let ops = 0;
  for (const t of terms) if (filter(t)) ops += t.perToken * length + t.perRow + t.perTokenSquared * length * length;
  return ops;
}

// ---- writing: MatMul chains to measure ONNX Runtime's GEMM ---------------------------------------

function varintBytes(v: number | bigint): number[] {
  let x = BigInt(v);
  const out: number[] = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x > 0n) b |= 0x80;
    out.push(b);
  } while (x > 0n);
  return out;
}
const fInt = (no: number, v: number | bigint) => Buffer.from([...varintBytes((no << 3) | 0), ...varintBytes(v)]);
const fBytes = (no: number, b: Uint8Array | string) => {
  const body = typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b);
  return Buffer.concat([Buffer.from([...varintBytes((no << 3) | 2), ...varintBytes(body.length)]), body]);
};

/** ONNX element types used here. */
export const ELEM = { float: 1, uint8: 2, int8: 3, int32: 6 } as const;

function valueInfo(name: string, elem: number, dims: number[]): Buffer {
  const shape = Buffer.concat(dims.map((d) => fBytes(1, fInt(1, d))));
  const tensorType = Buffer.concat([fInt(1, elem), fBytes(2, shape)]);
  return Buffer.concat([fBytes(1, name), fBytes(2, fBytes(1, tensorType))]);
}

/**
 * A model of `steps` MatMuls in a chain, alternating [M, K] x [K, N] -> [M, N] and [M, N] x [N, K]
 * -> [M, K], so every step costs 2 x M x K x N FLOPs and only the last (small) product is copied
 * out. Inputs: X [M, K], W1 [K, N], W2 [N, K] (fed each run, not folded away as constants).
 */
export function matmulChainModel(m: number, k: number, n: number, steps: number): Uint8Array {
  const nodes: Buffer[] = [];
  let x = 'X';
  for (let s = 0; s < steps; s++) {
    const out = s === steps - 1 ? 'Y' : `h${s}`;
    nodes.push(fBytes(1, Buffer.concat([fBytes(1, x), fBytes(1, s % 2 === 0 ? 'W1' : 'W2'), fBytes(2, out), fBytes(4, 'MatMul')])));
    x = out;
  }
  const last = steps % 2 === 1 ? [m, n] : [m, k];
  const graph = Buffer.concat([
    ...nodes,
    fBytes(2, 'matmul_chain'),
    fBytes(11, valueInfo('X', ELEM.float, [m, k])),
    fBytes(11, valueInfo('W1', ELEM.float, [k, n])),
    fBytes(11, valueInfo('W2', ELEM.float, [n, k])),
    fBytes(12, valueInfo('Y', ELEM.float, last)),
  ]);
  return new Uint8Array(Buffer.concat([fInt(1, 8), fBytes(7, graph), fBytes(8, Buffer.concat([fBytes(1, ''), fInt(2, 17)]))]));
}

/** One MatMulInteger [M, K] uint8 x [K, N] int8 -> [M, N] int32 (what the int8 models run). */
export function matmulIntegerModel(m: number, k: number, n: number): Uint8Array {
  const node = fBytes(1, Buffer.concat([fBytes(1, 'A'), fBytes(1, 'B'), fBytes(2, 'Y'), fBytes(4, 'MatMulInteger')]));
  const graph = Buffer.concat([
    node,
    fBytes(2, 'matmul_integer'),
    fBytes(11, valueInfo('A', ELEM.uint8, [m, k])),
    fBytes(11, valueInfo('B', ELEM.int8, [k, n])),
    fBytes(12, valueInfo('Y', ELEM.int32, [m, n])),
  ]);
  return new Uint8Array(Buffer.concat([fInt(1, 8), fBytes(7, graph), fBytes(8, Buffer.concat([fBytes(1, ''), fInt(2, 17)]))]));
}
