/** ESRGAN-family upscalers (RRDBNet, SRVGGNetCompact): A1111's ESRGAN / R-ESRGAN models for hires fix and `sdloom upscale`. */
export { buildEsrganGraph, type BuiltEsrganGraph } from './graph.ts'
export { esrganRename, esrganTree, measureEsrgan, type EsrganConfig } from './layout.ts'
export { EsrganNet, type EsrganOptions } from './session.ts'
export { buildSrvggGraph, isSrvgg, measureSrvgg, srvggRename, type SrvggConfig } from './srvgg.ts'
