export { WebAssets } from "./assets.ts";
export { WEB_FILES, bundleWebAssets, type WebAsset, type WebPath } from "./bundle.ts";
