export { loadModel, parseProviders } from './model.js';
export type { LoadOptions, LogitsResult, Model, ModelInfo, Prediction, PredictResult } from './model.js';
export { defaultModelsDir, readModelFolder, resolveModelDir, ModelFolderError, REQUIRED_FILES } from './model-folder.js';
export type { ModelConfig, ModelFolder, ResolveOptions } from './model-folder.js';
export { PROVIDERS } from './protocol.js';
export type { OrtLogLevel, ProviderName, Timings } from './protocol.js';
export { softmaxRows } from './encode.js';
