// chDB and onnxruntime-node both bring native libraries; once chDB has run a query in a process, a
// first import of onnxruntime-node hangs (reproduced with a 6-line script). `bun test` runs every
// file in one process in no fixed order relative to that, so load onnxruntime before any test can
// open chDB. The mesh is safe for the same reason: the gateway imports it at module load.
import 'onnxruntime-node';
