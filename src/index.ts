/*
 * The sdloom package: `import { Engine } from 'sdloom'`. The Engine runs generations in the caller's thread (a CLI,
 * a script); EngineClient runs the same Engine in a worker thread (a server: the event loop stays live). Both speak
 * the EngineApi of engine/contract.ts with plain-data requests and typed events. Modules not exported here are
 * internal and may change.
 */
export { Engine, type EngineOptions } from './engine/engine.ts'
export { EngineClient, type EngineClientOptions } from './engine/client.ts'
export { fileResolver, type FileResolverOptions } from './engine/file-resolver.ts'
export { validateRequest } from './engine/validate.ts'
export { requestFromJson, requestFromJsonValue, requestToJson } from './engine/request-json.ts'
export type {
  AdapterRef, EngineApi, EngineEvent, EnginePhase, GenerateOptions, GeneratedImage, GenerationBase, GenerationRequest,
  GenerationResult, HiresFix, Img2ImgGeneration, InpaintFillName, InpaintRequest, LoadedModelStatus, MaskImage, ModelResolver,
  ResizeModeName, RgbImage, Txt2ImgGeneration,
} from './engine/contract.ts'
export {
  InputError, MissingKeysError, ModelMismatchError, NetworkError, PickleSecurityError, SdError, ShapeMismatchError,
  TensorFileError, UnknownModelError, type InputIssue,
} from './core/errors.ts'
