import { AttributeType, DataType, ModelProto } from './proto.ts';

/** A node attribute with its ONNX type spelled out (a JS number alone cannot say int or float). */
export type Attribute =
  | { type: 'int'; value: number }
  | { type: 'float'; value: number }
  | { type: 'ints'; value: number[] }
  | { type: 'floats'; value: number[] }
  | { type: 'string'; value: string }
  | { type: 'strings'; value: string[] };

export const int = (value: number): Attribute => ({ type: 'int', value });
export const float = (value: number): Attribute => ({ type: 'float', value });
export const ints = (value: number[]): Attribute => ({ type: 'ints', value });
export const floats = (value: number[]): Attribute => ({ type: 'floats', value });
export const str = (value: string): Attribute => ({ type: 'string', value });
export const strs = (value: string[]): Attribute => ({ type: 'strings', value });

/** A tensor dimension: a size, or a name for a free one (the batch). */
export type Dim = number | string;

const encoder = new TextEncoder();

function attribute(name: string, attr: Attribute) {
  switch (attr.type) {
    case 'int':
      return { name, type: AttributeType.INT, i: attr.value };
    case 'float':
      return { name, type: AttributeType.FLOAT, f: attr.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: attr.value };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: attr.value };
    case 'string':
      return { name, type: AttributeType.STRING, s: encoder.encode(attr.value) };
    case 'strings':
      return { name, type: AttributeType.STRINGS, strings: attr.value.map((value) => encoder.encode(value)) };
  }
}

const valueInfo = (name: string, elemType: number, dims: Dim[]) => ({
  name,
  type: {
    tensorType: {
      elemType,
      shape: { dim: dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) },
    },
  },
});

/**
 * Builds an ONNX graph node by node: constants become initializers, every op gets a unique output
 * name, and `encode` writes the ModelProto bytes.
 */
export class GraphBuilder {
  private readonly nodes: object[] = [];
  private readonly initializers: object[] = [];
  private readonly inputs: object[] = [];
  private readonly outputs: object[] = [];
  private counter = 0;

  constructor(readonly name: string) {}

  /** Declares a graph input and returns its name. */
  input(name: string, elemType: number, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Declares a value as a graph output. */
  output(name: string, elemType: number, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /** A float32 constant. */
  floatConst(values: ArrayLike<number>, dims: number[], name = this.fresh('c')): string {
    const data = Float32Array.from(values as ArrayLike<number>);
    this.check(data.length, dims, name);
    this.initializers.push({ name, dataType: DataType.FLOAT, dims, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** An int64 constant (shapes, indices, axes). */
  intConst(values: ArrayLike<number>, dims: number[], name = this.fresh('i')): string {
    const data = BigInt64Array.from(Array.from(values, (value) => BigInt(value)));
    this.check(data.length, dims, name);
    this.initializers.push({ name, dataType: DataType.INT64, dims, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  /** Adds a node and returns its (first) output's name. */
  op(
    opType: string,
    inputs: string[],
    attributes: Record<string, Attribute> = {},
    options: OpOptions = {},
  ): string {
    return this.opMulti(opType, inputs, 1, attributes, options)[0] as string;
  }

  /** Adds a node with several outputs and returns their names. */
  opMulti(
    opType: string,
    inputs: string[],
    outputs: number,
    attributes: Record<string, Attribute> = {},
    options: OpOptions = {},
  ): string[] {
    const names = options.outputs ?? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({
      name: this.fresh(`n_${opType}`),
      opType,
      input: inputs,
      output: names,
      attribute: Object.entries(attributes).map(([key, attr]) => attribute(key, attr)),
      ...(options.domain ? { domain: options.domain } : {}),
    });
    return names;
  }

  /** The ModelProto bytes (IR 8) importing the given opsets. */
  encode(meta: {
    opsets: Record<string, number>;
    doc: string;
    metadata: Record<string, string>;
  }): Uint8Array {
    const model = {
      irVersion: 8,
      producerName: 'sensormesh-models',
      producerVersion: '1',
      docString: meta.doc,
      opsetImport: Object.entries(meta.opsets).map(([domain, version]) => ({ domain, version })),
      metadataProps: Object.entries(meta.metadata).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    const error = ModelProto.verify(model);
    if (error) throw new Error(`ONNX model ${this.name} does not verify: ${error}`);
    return ModelProto.encode(ModelProto.fromObject(model)).finish();
  }

  private fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  private check(length: number, dims: number[], name: string): void {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== length) throw new Error(`constant ${name}: ${length} values for shape [${dims.join(', ')}]`);
  }
}

export interface OpOptions {
  domain?: string;
  /** Explicit output names (e.g. the graph outputs). */
  outputs?: string[];
}
