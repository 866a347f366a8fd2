export { loadModel, parseProviders, SUPERVISION_DEFAULTS } from './model.js';
export type { LoadOptions, LogitsResult, Model, ModelInfo, Prediction, PredictResult } from './model.js';
export { InferenceError, InferenceTimeoutError, isRetriable, ModelClosedError, ModelError, ModelFailedError, WorkerRestartedError } from './errors.js';
export type { ModelHealth, RestartEvent } from './supervisor.js';
export { defaultModelsDir, readModelFolder, resolveModelDir, ModelFolderError, REQUIRED_FILES } from './model-folder.js';
export type { ModelConfig, ModelFolder, ResolveOptions } from './model-folder.js';
export { FAULT_KINDS, faultText, PROVIDERS } from './protocol.js';
export type { FaultKind, OrtLogLevel, ProviderName, Timings } from './protocol.js';
export { softmaxRows } from './encode.js';
